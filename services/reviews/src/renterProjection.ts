import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { ReviewsStore } from './store';

/**
 * What the reviews service knows from other services' events (once each, through the
 * inbox): which GPUs were ever registered (reviews of an unknown GPU are 404; an unregistered
 * GPU keeps its reviews) and which client booked which GPU (only they may review it, once the
 * booking has started, unless it ended charging nothing).
 */
export function createRenterProjection(deps: ConsumerDeps & { store: ReviewsStore }) {
  const { store } = deps;
  return consume(deps, {
    durable: 'reviews-renters',
    inOneStatement: {
      'gpu.registered': (db, { gpu }) => gpu && { query: store.knowGpu(db, gpu.id, gpu.ownerId) },
      'booking.created': (db, { booking }, envelope) => booking && {
        query: store.addRenter(db, {
          gpu_id: booking.gpuId, client_id: booking.clientId, booking_id: booking.bookingId,
          booked_at: booking.createdAt ?? envelope.occurredAt ?? new Date(), start_time: booking.startTime ?? new Date(),
        }),
      },
      'booking.ended': (db, { booking }) => (booking && booking.chargedMicro === 0 ? { query: store.markUnused(db, booking.bookingId) } : undefined),
    },
  });
}
