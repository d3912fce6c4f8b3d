import { afterCommit, type Knex } from '../../../lib/db';
import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { Gpu } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { GpuStatus } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { modelKeyOf } from '../../../lib/modelCatalogue';
import type { PricingStore } from './store';

/**
 * Pricing's view of the market, kept from registry and booking events (once each, through
 * the inbox): which GPUs exist, their model, listed price and liveness; which bookings are
 * live. Each applied event asks the price book to recompute its model once it commits.
 */
export function createMarketProjection(deps: ConsumerDeps & { store: PricingStore; changed: (modelKey: string) => void }) {
  const { store } = deps;
  const changed = (trx: Knex, modelKey: string | undefined) => {
    if (modelKey) afterCommit(trx, () => deps.changed(modelKey));
  };
  const recompute = (rows: Record<string, unknown>[]) => {
    if (typeof rows[0]?.model_key === 'string') deps.changed(rows[0].model_key);
  };
  const upsert = async (trx: Knex, gpu: Gpu) => {
    const modelKey = gpu.modelKey || modelKeyOf(gpu.model);
    await store.upsertGpu(trx, {
      gpu_id: gpu.id, model_key: modelKey, model: gpu.model, price_micro: gpu.pricePerHourMicro,
      online: gpu.status !== GpuStatus.GPU_STATUS_OFFLINE,
    });
    changed(trx, modelKey);
  };
  return consume(deps, {
    durable: 'pricing-market',
    on: {
      'gpu.registered': async (trx, { gpu }) => {
        if (gpu) await upsert(trx, gpu);
      },
      'gpu.updated': async (trx, { gpu }) => {
        if (!gpu) return;
        // An update may move a GPU to another model: both markets change.
        changed(trx, await store.modelOfGpu(trx, gpu.id));
        await upsert(trx, gpu);
      },
      'gpu.status_changed': async (trx, change) => {
        changed(trx, await store.setOnline(trx, change.gpuId, change.status !== GpuStatus.GPU_STATUS_OFFLINE));
      },
      'gpu.unregistered': async (trx, { gpuId }) => changed(trx, await store.removeGpu(trx, gpuId)),
    },
    inOneStatement: {
      'booking.created': (db, { booking }, envelope) => booking && {
        query: store.addBooking(db, {
          booking_id: booking.bookingId, gpu_id: booking.gpuId,
          price_per_hour_micro: booking.pricePerHourMicro, start_time: booking.startTime!, end_time: booking.endTime!,
          created_at: booking.createdAt ?? envelope.occurredAt ?? new Date(),
        }, modelKeyOf(booking.gpuModel)),
        after: recompute,
      },
      'booking.ended': (db, { booking }) => booking && { query: store.endBooking(db, booking.bookingId, booking.endedAt ?? new Date()), after: recompute },
    },
  });
}
