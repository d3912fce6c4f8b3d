import { afterCommit, type Knex } from '../../../lib/db';
import { metrics } from '../../../lib/metrics';
import type { Outbox } from '../../../lib/events/outbox';
import type { Logger } from '../../../lib/logger';
import { createPeriodic } from '../../../lib/periodic';
import type { Worker } from '../../../lib/service';
import { endBooking } from './domain/lifecycle';
import { bookingEnded } from './events';
import type { IdempotencyStore } from './idempotencyStore';
import type { BookingStore } from './store';

export interface ExpiryDeps {
  db: Knex;
  store: BookingStore;
  idempotency: IdempotencyStore;
  outbox: Outbox;
  logger: Logger;
  intervalMs: number;
}

const BATCH = 500;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Every `intervalMs`: cancels reservations whose GPU was offline when their window opened
 * (full refund), then completes bookings whose end time has passed; in batches claimed with
 * FOR UPDATE SKIP LOCKED (replicas share the work, never end one booking twice), each batch
 * and its booking.ended events committing together. Also prunes idempotency keys older
 * than two days (they are promised for at least one).
 */
export function createExpirySweeper(deps: ExpiryDeps): Worker {
  const { db, store, outbox, logger } = deps;
  let lastPrune = 0;
  /** Runs `batch` until it handles fewer rows than a full batch; the number of bookings it ended. */
  const drain = async (batch: (trx: Knex) => Promise<{ claimed: number; ended: number }>) => {
    let total = 0;
    for (;;) {
      const { claimed, ended } = await db.transaction(batch);
      total += ended;
      if (claimed < BATCH) return total;
    }
  };
  return createPeriodic('expiry-sweeper', deps.intervalMs, logger, async () => {
    const cancelled = await drain(async (trx) => {
      const opened = await store.claimOpenedWindows(trx, BATCH);
      const gone = opened.filter((r) => r.gpu_gone).map((row) => ({ row, settlement: endBooking(row, 'never_started', row.start_time) }));
      return { claimed: opened.length, ended: (await store.end(trx, outbox, gone, bookingEnded)).length };
    });
    if (cancelled) logger.info({ count: cancelled }, 'reservations cancelled: their GPU was offline when the window opened');
    const expired = await drain(async (trx) => {
      const due = await store.claimDue(trx, BATCH);
      const now = new Date();
      const ended = await store.end(trx, outbox, due.map((row) => ({ row, settlement: endBooking(row, 'expired', now) })), bookingEnded);
      afterCommit(trx, () => due.forEach((row) => metrics.sweeperLag('booking', 'expiry', row.end_time)));
      return { claimed: due.length, ended: ended.length };
    });
    if (expired) logger.info({ count: expired }, 'bookings expired');
    if (Date.now() - lastPrune > 3600_000) {
      lastPrune = Date.now();
      await deps.idempotency.prune(db, 2 * DAY_MS);
    }
  });
}
