import { afterCommit, type Knex } from '../../../lib/db';
import { metrics } from '../../../lib/metrics';
import type { Outbox } from '../../../lib/events/outbox';
import type { Logger } from '../../../lib/logger';
import { createPeriodic } from '../../../lib/periodic';
import type { Worker } from '../../../lib/service';
import { statusChangedEvent } from './events';
import type { RegistryStore } from './store';

export interface SweeperDeps {
  db: Knex;
  store: RegistryStore;
  outbox: Outbox;
  logger: Logger;
  ttlSeconds: number;
  intervalMs: number;
}

/**
 * Turns GPUs offline once their heartbeat is older than the TTL. It runs every
 * `intervalMs` (0.5 s), so a GPU goes offline at most TTL + interval after its last heartbeat.
 * Safe with several replicas: the UPDATE itself decides who flips a row, and the
 * transition's gpu.status_changed goes into the outbox in the same transaction, once.
 */
export function createOfflineSweeper(deps: SweeperDeps): Worker {
  return createPeriodic('offline-sweeper', deps.intervalMs, deps.logger, async () => {
    const count = await deps.db.transaction(async (trx) => {
      const rows = await deps.store.sweepOffline(trx, deps.ttlSeconds);
      const at = new Date();
      await deps.outbox.enqueue(trx, rows.map((r) => statusChangedEvent(r, true, 'heartbeat_timeout', at)));
      // Due when the heartbeat turned TTL old.
      afterCommit(trx, () => rows.forEach((r) => r.last_heartbeat_at
        && metrics.sweeperLag('registry', 'offline', new Date(new Date(r.last_heartbeat_at).getTime() + deps.ttlSeconds * 1000))));
      return rows.length;
    });
    if (count) deps.logger.info({ count }, 'GPUs went offline (no heartbeat within TTL)');
  });
}
