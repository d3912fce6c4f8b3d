import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { Ledger } from './ledger';

/**
 * Settles booking holds from booking events (once each, through the inbox, in the same
 * transaction as the ledger entries): booking.created confirms the hold (the booking
 * exists), booking.ended settles it with the charge and refund the booking service decided.
 */
export function createBookingSettlement(deps: ConsumerDeps & { ledger: Ledger }) {
  return consume(deps, {
    durable: 'accounts-booking-settlement',
    // One event per transaction. Batches held every client's balance until they committed (a
    // client's next hold waited for them), and two replicas' batches, each locking holds and
    // balances in its own events' order, deadlocked (PostgreSQL breaks one after 1 s).
    oneByOne: true,
    on: {
      'booking.created': async (trx, { booking }) => {
        if (booking) await deps.ledger.confirm(trx, booking.bookingId);
      },
      'booking.ended': async (trx, { booking }) => {
        if (booking) await deps.ledger.settle(trx, { bookingId: booking.bookingId, charged: booking.chargedMicro, refund: booking.refundMicro });
      },
    },
  });
}
