import type { Knex } from '../../../lib/db';
import { DomainError } from '../../../lib/errors';
import type { BookingServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import type { AsyncClient } from '../../../lib/grpcClient';
import type { Logger } from '../../../lib/logger';
import { createPeriodic } from '../../../lib/periodic';
import type { Worker } from '../../../lib/service';
import type { Ledger } from './ledger';
import type { LedgerStore } from './ledgerStore';

/**
 * The saga's safety net. A hold is placed before its booking is inserted; if the booking
 * service fails between the two (a crash, a lost compensation call), the hold is left
 * pending. Past its deadline (after which the booking service refuses to insert the
 * booking) and a grace for clock skew, each pending hold is checked with the booking
 * service itself: a booking that exists confirms it (nothing else does: the settlement
 * consumer takes booking.ended only, so this is how every booking running past its hold's
 * deadline gets its hold confirmed); one that does not gives the money back. Holds are claimed SKIP LOCKED: replicas share the work.
 */
export function createHoldReconciler(deps: {
  db: Knex; store: LedgerStore; ledger: Ledger; booking: () => AsyncClient<BookingServiceClient>; logger: Logger; intervalMs: number; graceMs: number;
}): Worker {
  // Every booking running past its deadline passes through here once: a round takes up to ten
  // batches, so a steady 200 bookings/s (at the default interval) never builds a backlog.
  const batch = () => deps.db.transaction(async (trx) => {
    const holds = await deps.store.holds.overdue(trx, deps.graceMs, BATCH);
    // Asked side by side: the claimed holds stay locked only as long as the slowest answer.
    const exists = await Promise.all(holds.map((hold) => deps.booking().getBooking({ caller: undefined, bookingId: hold.booking_id }, { deadlineMs: 2000 }).then(
      () => true,
      // Not knowing (a deadline, booking away) leaves that hold for the next round; the batch
      // goes on, so one slow answer does not keep a hundred holds locked round after round.
      (err: unknown) => (err instanceof DomainError && err.code === 'NOT_FOUND' ? false : (
        deps.logger.warn({ bookingId: hold.booking_id, err: (err as Error).message }, 'could not ask whether a booking exists; its hold waits'), undefined)),
    )));
    await deps.store.holds.confirm(trx, holds.filter((_, i) => exists[i] === true).map((h) => h.booking_id));
    for (const [i, hold] of holds.entries()) {
      if (exists[i] === false && (await deps.ledger.releaseIn(trx, hold.booking_id))) deps.logger.warn({ bookingId: hold.booking_id }, 'hold given back: its booking was never made');
    }
    // Decided ones only: a round goes on while whole batches are decided.
    return exists.filter((e) => e !== undefined).length;
  });
  return createPeriodic('hold-reconciler', deps.intervalMs, deps.logger, async () => {
    for (let round = 0; round < 10 && (await batch()) === BATCH; round++);
  });
}

const BATCH = 100;
