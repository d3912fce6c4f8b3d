import { createLogger, type Logger } from './logger';
import { startTracingFromEnv } from './tracing';

export interface Lifecycle {
  /** Adds a shutdown step; steps run in the order they were added. */
  onStop(name: string, step: () => Promise<void> | void): void;
  /** Adds a step that runs before every step added so far (stop the last started first). */
  onStopFirst(name: string, step: () => Promise<void> | void): void;
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
    onStopFirst(name, step) {
      steps.unshift({ name, step });
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
export function stopOnSignals(lifecycle: Pick<Lifecycle, 'stop'>, logger: Logger): void {
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
    process.stderr.write(`fatal: ${startupFailureText(err)}\n`);
    process.exit(1);
  });
}

/**
 * What a person reads when start-up fails: config errors and taken ports in words (they are
 * the person's to fix, a stack would only hide that), anything else with its stack.
 */
export function startupFailureText(err: unknown): string {
  if (err instanceof Error && err.name === 'ConfigError') return err.message;
  const taken = /EADDRINUSE[^\d]*?([\w.:[\]-]+:\d+)/.exec(String((err as Error)?.message ?? err));
  if (taken) {
    return `cannot listen on ${taken[1]}: the port is already in use (is the mesh or a service already running?). ` +
      'Stop it, or choose free ports: PORT (gateway), MINER_PORT, REGISTRY_PORT, BOOKING_PORT, REVIEWS_PORT, PRICING_PORT, ACCOUNTS_PORT, MARKET_PORT, METRICS_PORT.';
  }
  const text = String((err as Error)?.message ?? err);
  // What the environment gets wrong (a dependency down, a host that is not this machine's) is
  // the person's to fix too: its message, without a stack.
  const notHere = /(?:EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN|Name resolution failed for target)\D*?((?:[\w.-]+|\[[\w:.]+\]):\d+)/.exec(text);
  if (notHere) return `cannot listen on ${notHere[1].replace(/^dns:/, '')}: it is not an address of this machine (check the *_HOST variables)`;
  if (/^cannot reach /.test(text) || /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH/.test(text)) {
    return `${firstLine(text)} (is it running? check DATABASE_URL and NATS_URL)`;
  }
  return err instanceof Error ? err.stack ?? err.message : String(err);
}

const firstLine = (text: string) => text.split('\n')[0].slice(0, 300);

/**
 * A service's own entry point (`node dist/services/x/src/main.js`): read the config from
 * the environment, start tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set, start, stop on SIGTERM/SIGINT, exit 1 with a readable message on failure.
 */
export function serviceMain<C extends { logLevel: string }>(
  name: string,
  read: (env: NodeJS.ProcessEnv) => C,
  start: (config: C, logger: Logger) => Promise<{ stop(): Promise<void> }>,
): void {
  runMain(async () => {
    const config = read(process.env);
    const logger = createLogger(name, config.logLevel);
    // Before anything starts, so the first requests are traced; flushed after the last stops.
    const stopTracing = startTracingFromEnv(process.env, name);
    const running = await start(config, logger);
    stopOnSignals({ stop: () => running.stop().finally(stopTracing) }, logger);
  });
}
