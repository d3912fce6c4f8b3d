import type { Knex } from '../../../lib/db';
import type { Logger } from '../../../lib/logger';
import type { Worker } from '../../../lib/service';
import type { RegistryStore } from './store';

export interface SweeperDeps {
  db: Knex;
  store: RegistryStore;
  logger: Logger;
  ttlSeconds: number;
  intervalMs: number;
}

/**
 * Turns GPUs offline once their heartbeat is older than the TTL. It runs every
 * `intervalMs`, so a GPU goes offline at most TTL + interval after its last heartbeat.
 * Safe with several replicas: the UPDATE itself decides who flips a row.
 */
export function createOfflineSweeper(deps: SweeperDeps): Worker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const sweep = async () => {
    try {
      const ids = await deps.store.sweepOffline(deps.db, deps.ttlSeconds);
      if (ids.length) deps.logger.info({ count: ids.length }, 'GPUs went offline (no heartbeat within TTL)');
    } catch (err) {
      deps.logger.error({ err }, 'offline sweep failed');
    }
  };
  return {
    name: 'offline-sweeper',
    start() {
      timer = setInterval(() => {
        running ??= sweep().finally(() => (running = undefined));
      }, deps.intervalMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
