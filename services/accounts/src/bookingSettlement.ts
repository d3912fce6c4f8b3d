import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import { EVENT_TYPES } from '../../../lib/events/envelope';
import type { Ledger } from './ledger';

/**
 * Settles booking holds from booking events (once each, through the inbox, in the same
 * transaction as the ledger entries): booking.created confirms the hold (the booking
 * exists), booking.ended settles it with the charge and refund the booking service decided.
 */
export function createBookingSettlement(deps: ConsumerDeps & { ledger: Ledger }) {
  return consume(deps, {
    durable: 'accounts-booking-settlement',
    oneByOne: true,
    // Two replicas' batches each locked holds and balances in their events' order and
    // deadlocked (PostgreSQL breaks a deadlock after deadlock_timeout, 1 s: every booking in
    // the fleet waited that long). All the rows a batch touches are locked first, in order.
    lockFirst: (trx, envelopes) => deps.ledger.lockForBookings(trx, envelopes.flatMap((e) => {
      const payload = e.type === 'booking.created' || e.type === 'booking.ended' ? EVENT_TYPES[e.type].decode(e.payload) : undefined;
      return payload?.booking ? [payload.booking.bookingId] : [];
    })),
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
