import { afterCommit, type Knex } from '../../../lib/db';
import type { EventBus } from '../../../lib/events/bus';
import { decodePayload } from '../../../lib/events/envelope';
import { createInboxConsumer } from '../../../lib/events/inboxConsumer';
import type {
  BookingCreated, BookingEnded, GpuRegistered, GpuStatusChanged, GpuUnregistered,
} from '../../../lib/gen/aitbc/marketplace/v1/events';
import { GpuStatus } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import type { Logger } from '../../../lib/logger';
import { modelKeyOf } from '../../../lib/modelCatalogue';
import type { PricingStore } from './store';

/**
 * Pricing's view of the market, kept from registry and booking events (once each, through
 * the inbox): which GPUs exist, their model, listed price and liveness; which bookings are
 * live. Each applied event asks the price book to recompute its model once it commits.
 */
export function createMarketProjection(deps: { db: Knex; bus: EventBus; store: PricingStore; logger: Logger; changed: (modelKey: string) => void }) {
  const { store } = deps;
  return createInboxConsumer({
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    durable: 'pricing-market',
    types: ['gpu.>', 'booking.created', 'booking.ended'],
    async apply(trx, delivery) {
      const { type } = delivery.envelope;
      const payload = decodePayload(delivery.envelope);
      let modelKey: string | undefined;
      switch (type) {
        case 'gpu.registered':
        case 'gpu.updated': {
          const { gpu } = payload as GpuRegistered;
          if (!gpu) return;
          // An update may move a GPU to another model: both markets change.
          const before = type === 'gpu.updated' ? await store.modelOfGpu(trx, gpu.id) : undefined;
          if (before) afterCommit(trx, () => deps.changed(before));
          modelKey = gpu.modelKey || modelKeyOf(gpu.model);
          await store.upsertGpu(trx, {
            gpu_id: gpu.id, model_key: modelKey, model: gpu.model, price_micro: gpu.pricePerHourMicro,
            online: gpu.status !== GpuStatus.GPU_STATUS_OFFLINE,
          });
          break;
        }
        case 'gpu.status_changed': {
          const change = payload as GpuStatusChanged;
          modelKey = await store.setOnline(trx, change.gpuId, change.status !== GpuStatus.GPU_STATUS_OFFLINE);
          break;
        }
        case 'gpu.unregistered':
          modelKey = await store.removeGpu(trx, (payload as GpuUnregistered).gpuId);
          break;
        case 'booking.created': {
          const { booking } = payload as BookingCreated;
          if (!booking) return;
          modelKey = await store.addBooking(trx, {
            booking_id: booking.bookingId, gpu_id: booking.gpuId,
            price_per_hour_micro: booking.pricePerHourMicro, start_time: booking.startTime!, end_time: booking.endTime!,
            created_at: booking.createdAt ?? delivery.envelope.occurredAt ?? new Date(),
          }, modelKeyOf(booking.gpuModel));
          break;
        }
        case 'booking.ended': {
          const { booking } = payload as BookingEnded;
          if (!booking) return;
          modelKey = await store.endBooking(trx, booking.bookingId, booking.endedAt ?? new Date());
          break;
        }
        default:
          return; // other gpu.* events carry nothing pricing counts
      }
      const key = modelKey;
      if (key) afterCommit(trx, () => deps.changed(key));
    },
  });
}
