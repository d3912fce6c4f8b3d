import type { Knex } from '../../../lib/db';
import type { EventBus } from '../../../lib/events/bus';
import { decodePayload } from '../../../lib/events/envelope';
import { createInboxConsumer } from '../../../lib/events/inboxConsumer';
import type { BookingCreated, BookingEnded } from '../../../lib/gen/aitbc/marketplace/v1/events';
import type { Logger } from '../../../lib/logger';
import type { RegistryStore } from './store';

/**
 * Keeps the registry's view of bookings from booking events (once each, through the inbox):
 * which live bookings a GPU has, the earliest on its row (status `booked` while it covers
 * now, `booking_expires`), and `total_bookings`.
 */
export function createBookingProjection(deps: { db: Knex; bus: EventBus; store: RegistryStore; logger: Logger }) {
  return createInboxConsumer({
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    durable: 'registry-booking-projection',
    types: ['booking.created', 'booking.ended'],
    async apply(trx, delivery) {
      if (delivery.envelope.type === 'booking.created') {
        const { booking } = decodePayload(delivery.envelope) as BookingCreated;
        if (!booking) return;
        await deps.store.addLiveBooking(trx, {
          booking_id: booking.bookingId, gpu_id: booking.gpuId, client_id: booking.clientId,
          start_time: booking.startTime!, end_time: booking.endTime!,
        });
      } else {
        const { booking } = decodePayload(delivery.envelope) as BookingEnded;
        if (booking) await deps.store.removeLiveBooking(trx, booking.bookingId, booking.gpuId);
      }
    },
  });
}
