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
 * service itself: a booking that exists confirms it (its events are merely late); one that
 * does not gives the money back. Holds are claimed SKIP LOCKED: replicas share the work.
 */
export function createHoldReconciler(deps: {
  db: Knex; store: LedgerStore; ledger: Ledger; booking: () => AsyncClient<BookingServiceClient>; logger: Logger; intervalMs: number; graceMs: number;
}): Worker {
  return createPeriodic('hold-reconciler', deps.intervalMs, deps.logger, async () => {
    await deps.db.transaction(async (trx) => {
      for (const hold of await deps.store.holds.overdue(trx, deps.graceMs, 100)) {
        const exists = await deps.booking().getBooking({ caller: undefined, bookingId: hold.booking_id }, { deadlineMs: 2000 }).then(
          () => true,
          (err: unknown) => (err instanceof DomainError && err.code === 'NOT_FOUND' ? false : Promise.reject(err)),
        );
        if (exists) await deps.ledger.confirm(trx, hold.booking_id);
        else if (await deps.ledger.releaseIn(trx, hold.booking_id)) deps.logger.warn({ bookingId: hold.booking_id }, 'hold given back: its booking was never made');
      }
    });
  });
}
