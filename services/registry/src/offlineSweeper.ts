import { afterCommit, type Knex } from '../../../lib/db';
import { metrics } from '../../../lib/metrics';
import type { Outbox } from '../../../lib/events/outbox';
import type { Logger } from '../../../lib/logger';
import { createPeriodic } from '../../../lib/periodic';
import type { Worker } from '../../../lib/service';
import { statusChangedEvent } from './events';
import type { HeartbeatDeadlines } from './heartbeatDeadlines';
import type { GpuRow, RegistryStore } from './store';

export interface SweeperDeps {
  db: Knex;
  store: RegistryStore;
  outbox: Outbox;
  logger: Logger;
  ttlSeconds: number;
  intervalMs: number;
  /** The beats this replica saw (fed by liveness); without it every run scans every GPU. */
  deadlines?: HeartbeatDeadlines;
}

/**
 * Turns GPUs offline once their heartbeat is older than the TTL.
 *
 * Every `intervalMs` (0.5 s) it checks the GPUs whose last beat at this replica has grown
 * TTL old, by id, so a GPU goes offline at most TTL + 0.75 s after its last heartbeat (a GPU
 * whose row another transaction holds at that moment is checked again at the next run). Once
 * every TTL (at least 2 s, at most 60 s; and at start) it scans every online GPU, for those no
 * replica remembers: their beats reached a replica that restarted or stopped since. Such a GPU
 * goes offline at most 2 × TTL + 0.5 s after its last heartbeat.
 *
 * Safe with several replicas: the UPDATE itself decides who flips a row (it re-checks the
 * stored heartbeat, which another replica may have moved on), and the transition's
 * gpu.status_changed goes into the outbox in the same transaction, once.
 */
export function createOfflineSweeper(deps: SweeperDeps): Worker {
  const fullEveryMs = Math.min(60_000, Math.max(2_000, deps.ttlSeconds * 1000));
  let nextFull = 0;
  const sweep = (among?: string[]) => deps.db.transaction(async (trx) => {
    const rows = await deps.store.sweepOffline(trx, deps.ttlSeconds, among);
    const at = new Date();
    await deps.outbox.enqueue(trx, rows.map((r) => statusChangedEvent(r, true, 'heartbeat_timeout', at)));
    afterCommit(trx, () => rows.forEach(observeLag));
    return rows.length;
  });
  // Due when the heartbeat turned TTL old.
  const observeLag = (r: GpuRow) => r.last_heartbeat_at
    && metrics.sweeperLag('registry', 'offline', new Date(new Date(r.last_heartbeat_at).getTime() + deps.ttlSeconds * 1000));

  return createPeriodic('offline-sweeper', deps.intervalMs, deps.logger, async () => {
    const now = Date.now();
    let count = 0;
    if (!deps.deadlines || now >= nextFull) {
      count = await sweep();
      nextFull = now + fullEveryMs;
    } else {
      const due = deps.deadlines.takeBefore(now - deps.ttlSeconds * 1000);
      if (due.length) {
        try {
          count = await sweep(due);
        } finally {
          // What is still online and old was skipped (another transaction held its row) or
          // not reached: it is checked again at the next run, not forgotten until a full scan.
          const left = await deps.store.staleOnline(deps.db, deps.ttlSeconds, due).catch(() => due);
          for (const id of left) deps.deadlines.note(id, 0);
        }
      }
    }
    if (count) deps.logger.info({ count }, 'GPUs went offline (no heartbeat within TTL)');
  });
}
