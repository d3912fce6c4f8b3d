import type { Knex } from '../../../lib/db';
import { DomainError } from '../../../lib/errors';
import type { Outbox } from '../../../lib/events/outbox';
import { type EndCause, endBooking } from './domain/lifecycle';
import { bookingEnded } from './events';
import type { BookingRow, BookingStore } from './store';

/**
 * Ends a live booking now for a cause its caller gives (a release, a job's end): settled by
 * the domain, ended with its booking.ended event in one conditional statement (the booking
 * must still be active), so two concurrent ends cannot both succeed.
 */
export function createEndings(deps: { db: Knex; store: BookingStore; outbox: Outbox; now?: () => Date }) {
  const now = deps.now ?? (() => new Date());
  return async function endNow(row: BookingRow, cause: EndCause): Promise<BookingRow> {
    if (row.status !== 'active') throw new DomainError('FAILED_PRECONDITION', `booking ${row.booking_id} has already ended (${row.status})`);
    const [ended] = await deps.store.end(deps.db, deps.outbox, [{ row, settlement: endBooking(row, cause, now()) }], bookingEnded);
    if (!ended) throw new DomainError('FAILED_PRECONDITION', `booking ${row.booking_id} has already ended`);
    return ended;
  };
}
