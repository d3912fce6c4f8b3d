import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { Booking } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import type { EndedBooking, Ledger } from './ledger';

/**
 * Settles booking holds from booking.ended (once each, through the inbox, in the same
 * transaction as the ledger entries) with the charge and refund the booking service decided.
 *
 * booking.created is not consumed: a booking that ends in time settles a hold that is still
 * pending, and the hold reconciler confirms, after the hold's deadline, the holds of bookings
 * that run longer (it asks the booking service, as for a hold whose booking may never have
 * been made). One event fewer per booking, and only booking.ended is delivered here.
 */
const ended = (booking: Booking): EndedBooking => ({
  bookingId: booking.bookingId, charged: booking.chargedMicro, refund: booking.refundMicro, clientId: booking.clientId, ownerId: booking.ownerId,
});

export function createBookingSettlement(deps: ConsumerDeps & { ledger: Ledger }) {
  return consume(deps, {
    durable: 'accounts-booking-settlement',
    // One event per transaction. Batches held every client's balance until they committed (a
    // client's next hold waited for them), and two replicas' batches, each locking holds and
    // balances in its own events' order, deadlocked (PostgreSQL breaks one after 1 s).
    oneByOne: true,
    // The usual settlement (a hold of the amounts the event says) is one statement with the
    // inbox row; anything else goes through `on`, in a transaction.
    firstInOneStatement: {
      'booking.ended': async ({ booking }, _envelope, inbox) => Boolean(booking && await deps.ledger.settle(deps.db, ended(booking), inbox)),
    },
    on: {
      'booking.ended': async (trx, { booking }) => {
        if (booking) await deps.ledger.settle(trx, ended(booking));
      },
    },
  });
}
