import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { Ledger } from './ledger';

/**
 * Settles booking holds from booking.ended (once each, through the inbox, in the same
 * transaction as the ledger entries) with the charge and refund the booking service decided.
 *
 * booking.created is not consumed: a booking that ends in time settles a hold that is still
 * pending, and the hold reconciler confirms, after the hold's deadline, the holds of bookings
 * that run longer (it asks the booking service, as for a hold whose booking may never have
 * been made). One event fewer per booking, and only booking.ended is delivered here.
 */
export function createBookingSettlement(deps: ConsumerDeps & { ledger: Ledger }) {
  return consume(deps, {
    durable: 'accounts-booking-settlement',
    // One event per transaction. Batches held every client's balance until they committed (a
    // client's next hold waited for them), and two replicas' batches, each locking holds and
    // balances in its own events' order, deadlocked (PostgreSQL breaks one after 1 s).
    oneByOne: true,
    on: {
      'booking.ended': async (trx, { booking }) => {
        if (booking) {
          await deps.ledger.settle(trx, {
            bookingId: booking.bookingId, charged: booking.chargedMicro, refund: booking.refundMicro, clientId: booking.clientId, ownerId: booking.ownerId,
          });
        }
      },
    },
  });
}
