import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { Booking } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { BookingCreated, BookingEnded } from '../../../lib/gen/aitbc/marketplace/v1/events';
import { BookingNotice } from '../../../lib/gen/aitbc/marketplace/v1/miner';
import { NOTICE_TYPE } from './minerSessions';
import type { ProjectionStore } from './projectionStore';

/**
 * Keeps the registry's view of bookings from booking events (once each, through the inbox):
 * which live bookings a GPU has, the earliest on its row (status `booked` while it covers
 * now, `booking_expires`), and `total_bookings`; and tells the GPU's miner (BookingNotice).
 */
export function createBookingProjection(deps: ConsumerDeps & { store: ProjectionStore }) {
  // Tell the miner (best effort, not stored: the booking events are the record), once the
  // projection has committed.
  const notify = (booking: Booking, started: boolean, reason: string) => () => {
    const notice = BookingNotice.encode({
      gpuId: booking.gpuId, bookingId: booking.bookingId, started, startTime: booking.startTime, endTime: booking.endTime, reason,
    }).finish();
    deps.bus.publishTransient(deps.bus.subject(NOTICE_TYPE), notice);
  };
  return consume(deps, {
    durable: 'registry-booking-projection',
    // Each event changes its GPU's rows: batches take GPUs in id order, so two replicas'
    // batches cannot deadlock (the fleet's did, about twice a run, each costing a second).
    batchOrder: (d) => (d.envelope.type === 'booking.ended' ? BookingEnded : BookingCreated).decode(d.envelope.payload).booking?.gpuId ?? '',
    inOneStatement: {
      'booking.created': (db, { booking }) => booking && {
        query: deps.store.addLiveBooking(db, {
          booking_id: booking.bookingId, gpu_id: booking.gpuId, client_id: booking.clientId,
          start_time: booking.startTime!, end_time: booking.endTime!,
        }),
        after: notify(booking, true, ''),
      },
      'booking.ended': (db, { booking, reason }) => booking && {
        query: deps.store.removeLiveBooking(db, booking.bookingId, booking.gpuId),
        after: notify(booking, false, reason),
      },
    },
  });
}
