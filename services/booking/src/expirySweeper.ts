import type { Knex } from '../../../lib/db';
import type { Outbox } from '../../../lib/events/outbox';
import type { Logger } from '../../../lib/logger';
import { createPeriodic } from '../../../lib/periodic';
import type { Worker } from '../../../lib/service';
import { notBefore } from './domain/billing';
import { bookingEnded } from './events';
import type { BookingStore } from './store';

export interface ExpiryDeps {
  db: Knex;
  store: BookingStore;
  outbox: Outbox;
  logger: Logger;
  intervalMs: number;
}

const BATCH = 500;
const DAY_MS = 24 * 3600 * 1000;

/**
 * Cancels reservations whose GPU was offline when their window opened (full refund), and
 * completes bookings whose end time has passed, every `intervalMs`, in batches claimed with
 * FOR UPDATE SKIP LOCKED (replicas share the work, never end one booking twice); each
 * batch and its booking.ended events commit together. Also prunes idempotency keys older
 * than two days (they are promised for at least one).
 */
export function createExpirySweeper(deps: ExpiryDeps): Worker {
  let lastPrune = 0;
  return createPeriodic('expiry-sweeper', deps.intervalMs, deps.logger, async () => {
    for (;;) {
      const { checked, cancelled } = await deps.db.transaction(async (trx) => {
        const opened = await deps.store.claimOpenedWindows(trx, BATCH);
        const gone = [];
        for (const row of opened.filter((r) => r.gpu_gone)) {
          // Offline since before the window opened: nothing was used, everything comes back.
          gone.push(await deps.store.end(trx, row.booking_id, {
            status: 'cancelled', reason: 'gpu_offline', charged: 0, refund: row.total_cost_micro, endedAt: notBefore(row.start_time, row.created_at),
          }));
        }
        await deps.outbox.enqueue(trx, gone.map(bookingEnded));
        return { checked: opened.length, cancelled: gone.length };
      });
      if (cancelled) deps.logger.info({ count: cancelled }, 'reservations cancelled: their GPU was offline when the window opened');
      if (checked < BATCH) break;
    }
    for (;;) {
      const ended = await deps.db.transaction(async (trx) => {
        const rows = await deps.store.expireDue(trx, BATCH);
        await deps.outbox.enqueue(trx, rows.map(bookingEnded));
        return rows.length;
      });
      if (ended) deps.logger.info({ count: ended }, 'bookings expired');
      if (ended < BATCH) break;
    }
    if (Date.now() - lastPrune > 3600_000) {
      lastPrune = Date.now();
      await deps.store.idempotency.prune(deps.db, 2 * DAY_MS);
    }
  });
}
