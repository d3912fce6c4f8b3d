import { createLogger, type Logger } from './logger';

export interface Lifecycle {
  /** Adds a shutdown step; steps run in the order they were added. */
  onStop(name: string, step: () => Promise<void> | void): void;
  /** Runs every step once, in order, logging failures and going on. Idempotent. */
  stop(): Promise<void>;
}

/**
 * One ordered, idempotent shutdown. A composition root adds steps as it starts things, in
 * the order they must stop (health off and gRPC drain first, the database last).
 */
export function createLifecycle(logger: Logger): Lifecycle {
  const steps: { name: string; step: () => Promise<void> | void }[] = [];
  let stopping: Promise<void> | undefined;
  return {
    onStop(name, step) {
      steps.push({ name, step });
    },
    stop() {
      stopping ??= (async () => {
        for (const { name, step } of steps) {
          try {
            logger.debug({ step: name }, 'stopping');
            await step();
          } catch (err) {
            logger.error({ err, step: name }, 'shutdown step failed');
          }
        }
      })();
      return stopping;
    },
  };
}

/** Stops on SIGTERM/SIGINT (a second signal exits at once) and exits when done. */
export function stopOnSignals(lifecycle: Lifecycle, logger: Logger): void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    signalled = true;
    logger.info({ signal }, 'shutting down');
    lifecycle.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Runs a composition root's main, logging a start-up failure and exiting 1. */
export function runMain(main: () => Promise<unknown>): void {
  main().catch((err: unknown) => {
    // Config errors carry their own readable text; anything else gets its stack.
    const text = err instanceof Error && err.name === 'ConfigError' ? err.message : err instanceof Error ? err.stack : String(err);
    process.stderr.write(`fatal: ${text}\n`);
    process.exit(1);
  });
}

/**
 * A service's own entry point (`node dist/services/x/src/main.js`): read the config from
 * the environment, start, stop on SIGTERM/SIGINT, exit 1 with a readable message on failure.
 */
export function serviceMain<C extends { logLevel: string }>(
  name: string,
  read: (env: NodeJS.ProcessEnv) => C,
  start: (config: C, logger: Logger) => Promise<{ stop(): Promise<void> }>,
): void {
  runMain(async () => {
    const config = read(process.env);
    const logger = createLogger(name, config.logLevel);
    const running = await start(config, logger);
    stopOnSignals({ onStop: () => undefined, stop: () => running.stop() }, logger);
  });
}
