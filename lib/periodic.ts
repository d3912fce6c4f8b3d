import type { Logger } from './logger';
import type { Worker } from './service';

/**
 * A worker that runs `task` every `intervalMs`, never two runs at once (a slow run makes
 * the next tick skip), logging failures without stopping. `stop` waits for a run in flight.
 */
export function createPeriodic(name: string, intervalMs: number, logger: Logger, task: () => Promise<void>): Worker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const run = () => task().catch((err) => logger.error({ err, worker: name }, `${name} failed`));
  return {
    name,
    start() {
      timer = setInterval(() => {
        running ??= run().finally(() => (running = undefined));
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
