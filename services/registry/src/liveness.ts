import type { Knex } from '../../../lib/db';
import type { Outbox } from '../../../lib/events/outbox';
import type { Logger } from '../../../lib/logger';
import type { Worker } from '../../../lib/service';
import { statusChangedEvent } from './events';
import type { Reading, RegistryStore } from './store';
import { metrics } from '../../../lib/metrics';
import type { HeartbeatDeadlines } from './heartbeatDeadlines';

export interface Liveness extends Worker {
  /**
   * Notes that these GPUs are alive now, with their telemetry where given (parallel to the
   * ids). Kept in memory (the latest per GPU); written at the next flush.
   */
  beat(gpuIds: string[], readings?: (Reading | undefined)[]): void;
  /** A registration counts as a beat: the offline sweeper watches these GPUs from now. */
  registered(gpuIds: string[]): void;
  /** Writes every pending heartbeat in one statement (and the GPUs that came back online). */
  flush(): Promise<number>;
}

/**
 * Heartbeats without one database write each: beats are coalesced in memory (one entry per
 * GPU, the latest time) and flushed every `flushMs` in one UPDATE; GPUs that were offline
 * come back with one gpu.status_changed each, in the same transaction. Both the miner stream
 * and the REST heartbeat go through here.
 */
export function createLiveness(deps: {
  db: Knex; store: RegistryStore; outbox: Outbox; logger: Logger; flushMs: number;
  /** Where the offline sweeper learns which GPUs beat here, and when. */
  deadlines?: HeartbeatDeadlines;
}): Liveness {
  let pending = new Map<string, { ms: number; reading?: Reading }>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<number> = Promise.resolve(0);

  const writeOnce = async (): Promise<number> => {
    if (!pending.size) return 0;
    const batch = pending;
    pending = new Map();
    try {
      return await deps.db.transaction(async (trx) => {
        const beats = [...batch.values()];
        const rows = await deps.store.markAlive(trx, [...batch.keys()], beats.map((b) => new Date(b.ms)), beats.map((b) => b.reading ?? null));
        const at = new Date();
        await deps.outbox.enqueue(trx, rows.filter((r) => !r.was_online).map((r) => statusChangedEvent(r, false, 'heartbeat', at)));
        return rows.length;
      });
    } catch (err) {
      // Put the beats back (newer ones win) so the next flush retries them, without their
      // readings: whatever the database refused, liveness never waits on telemetry.
      for (const [id, beat] of batch) if ((pending.get(id)?.ms ?? 0) < beat.ms) pending.set(id, { ms: beat.ms });
      throw err;
    }
  };

  const flush = () => {
    // One flush at a time: a flush asked for during another runs right after it.
    flushing = flushing.catch(() => 0).then(writeOnce);
    return flushing;
  };

  return {
    name: 'liveness',
    beat(gpuIds, readings) {
      const ms = Date.now();
      metrics.heartbeats('registry');
      gpuIds.forEach((id, i) => {
        // A beat without a reading keeps the one a recent beat brought, until it is written.
        const reading = readings?.[i] ?? pending.get(id)?.reading;
        pending.set(id, { ms, reading });
        deps.deadlines?.note(id, ms);
      });
    },
    registered(gpuIds) {
      const ms = Date.now();
      for (const id of gpuIds) deps.deadlines?.note(id, ms);
    },
    flush,
    start() {
      timer = setInterval(() => {
        flush().catch((err) => deps.logger.error({ err }, 'heartbeat flush failed'));
      }, deps.flushMs);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await flush().catch((err) => deps.logger.error({ err }, 'last heartbeat flush failed'));
    },
  };
}
