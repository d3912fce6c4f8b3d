import { afterCommit, type Knex } from '../../../lib/db';
import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import { type Gpu, GpuStatus } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import type { RatingSummary } from '../../../lib/gen/aitbc/marketplace/v1/reviews';
import { modelKeyOf } from '../../../lib/modelCatalogue';
import type { MarketStore } from './marketStore';

/**
 * The market's view, from events (once each, through the inbox): GPUs (specs, what they rent
 * for, liveness, rating) and live bookings. Anything that can free a GPU or open an offer
 * wakes the matcher once it commits.
 */
export function createMarketProjection(deps: ConsumerDeps & { store: MarketStore; changed: () => void }) {
  const { store } = deps;
  const wake = (trx: Knex) => afterCommit(trx, deps.changed);
  const put = async (trx: Knex, gpu: Gpu | undefined) => {
    if (!gpu) return;
    const closed = gpu.offer?.status === 'closed';
    const offer = closed ? undefined : gpu.offer;
    await store.putGpu(trx, {
      gpu_id: gpu.id, owner_id: gpu.ownerId, miner_id: gpu.minerId, model: gpu.model, model_key: gpu.modelKey || modelKeyOf(gpu.model),
      memory_gb: gpu.memoryGb, region: gpu.region, price_micro: offer?.pricePerHourMicro ?? gpu.pricePerHourMicro, offer_open: !!offer,
      withdrawn: closed, offer_min_hours: offer?.minHours ?? null, offer_max_hours: offer?.maxHours ?? null, online: gpu.status !== GpuStatus.GPU_STATUS_OFFLINE,
    });
    wake(trx);
  };
  const rate = async (trx: Knex, { summary }: { summary?: RatingSummary }) => {
    if (summary) await store.setRating(trx, summary.gpuId, summary.averageRating, summary.version);
  };
  return consume(deps, {
    durable: 'market-view',
    on: {
      'gpu.registered': (trx, { gpu }) => put(trx, gpu),
      'gpu.updated': (trx, { gpu }) => put(trx, gpu),
      'gpu.status_changed': async (trx, change) => {
        await store.setOnline(trx, change.gpuId, change.status !== GpuStatus.GPU_STATUS_OFFLINE);
        wake(trx);
      },
      'gpu.unregistered': (trx, { gpuId }) => store.unregister(trx, gpuId),
      'booking.created': async (trx, { booking }, envelope) => {
        if (booking) await store.noteBooking(trx, booking, envelope.occurredAt);
      },
      'booking.ended': async (trx, { booking }) => {
        if (!booking) return;
        await store.endBooking(trx, booking.bookingId);
        wake(trx);
      },
      'review.added': rate,
      'review.edited': rate,
      'review.moderated': rate,
    },
  });
}
