import { afterCommit, type Knex } from '../../../lib/db';
import type { EventBus } from '../../../lib/events/bus';
import { decodePayload } from '../../../lib/events/envelope';
import { createInboxConsumer } from '../../../lib/events/inboxConsumer';
import type { BookingCreated, BookingEnded } from '../../../lib/gen/aitbc/marketplace/v1/events';
import { BookingNotice } from '../../../lib/gen/aitbc/marketplace/v1/miner';
import type { Logger } from '../../../lib/logger';
import { NOTICE_TYPE } from './minerSessions';
import type { RegistryStore } from './store';

/**
 * Keeps the registry's view of bookings from booking events (once each, through the inbox):
 * which live bookings a GPU has, the earliest on its row (status `booked` while it covers
 * now, `booking_expires`), and `total_bookings`; and tells the GPU's miner (BookingNotice).
 */
export function createBookingProjection(deps: { db: Knex; bus: EventBus; store: RegistryStore; logger: Logger }) {
  return createInboxConsumer({
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    durable: 'registry-booking-projection',
    types: ['booking.created', 'booking.ended'],
    async apply(trx, delivery) {
      const started = delivery.envelope.type === 'booking.created';
      const { booking, reason } = decodePayload(delivery.envelope) as BookingCreated & Partial<BookingEnded>;
      if (!booking) return;
      if (started) {
        await deps.store.addLiveBooking(trx, {
          booking_id: booking.bookingId, gpu_id: booking.gpuId, client_id: booking.clientId,
          start_time: booking.startTime!, end_time: booking.endTime!,
        });
      } else {
        await deps.store.removeLiveBooking(trx, booking.bookingId, booking.gpuId);
      }
      // Tell the miner (best effort, not stored: the booking events are the record), once the
      // projection has committed; the notices of one batch then leave in one socket write.
      const notice = BookingNotice.encode({
        gpuId: booking.gpuId, bookingId: booking.bookingId, started, startTime: booking.startTime, endTime: booking.endTime,
        reason: reason ?? '',
      }).finish();
      afterCommit(trx, () => deps.bus.publishTransient(deps.bus.subject(NOTICE_TYPE), notice));
    },
  });
}
