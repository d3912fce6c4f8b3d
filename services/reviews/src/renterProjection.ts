import type { Knex } from '../../../lib/db';
import type { EventBus } from '../../../lib/events/bus';
import { decodePayload } from '../../../lib/events/envelope';
import { createInboxConsumer } from '../../../lib/events/inboxConsumer';
import type { BookingCreated, GpuRegistered } from '../../../lib/gen/aitbc/marketplace/v1/events';
import type { Logger } from '../../../lib/logger';
import type { ReviewsStore } from './store';

/**
 * What the reviews service knows from other services' events (once each, through the
 * inbox): which GPUs were ever registered (reviews of an unknown GPU are 404; an unregistered
 * GPU keeps its reviews) and which client booked which GPU (only they may review it).
 */
export function createRenterProjection(deps: { db: Knex; bus: EventBus; store: ReviewsStore; logger: Logger }) {
  const { store } = deps;
  return createInboxConsumer({
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    durable: 'reviews-renters',
    types: ['gpu.registered', 'booking.created'],
    async apply(trx, delivery) {
      const payload = decodePayload(delivery.envelope);
      switch (delivery.envelope.type) {
        case 'gpu.registered': {
          const { gpu } = payload as GpuRegistered;
          if (gpu) await store.knowGpu(trx, gpu.id, gpu.ownerId);
          break;
        }
        case 'booking.created': {
          const { booking } = payload as BookingCreated;
          if (booking) {
            await store.addRenter(trx, {
              gpu_id: booking.gpuId, client_id: booking.clientId, booking_id: booking.bookingId,
              booked_at: booking.createdAt ?? delivery.envelope.occurredAt ?? new Date(),
            });
          }
          break;
        }
        default:
          break;
      }
    },
  });
}
