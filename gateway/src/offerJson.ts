import type { Gpu } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { toUnits } from '../../lib/money';
import { gpuJson } from './gpuJson';

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/** An offer as upstream's coordinator shows it (id, provider, capacity, price, …), with its terms. */
export function offerJson(gpu: Gpu) {
  const o = gpu.offer!;
  const price = toUnits(o.pricePerHourMicro);
  return {
    id: o.offerId,
    gpu_id: gpu.id,
    provider: gpu.ownerId,
    miner_id: gpu.minerId,
    capacity: 1,
    gpu_count: 1,
    price,
    price_per_hour: price,
    min_hours: o.minHours,
    max_hours: o.maxHours,
    supported_models: o.supportedModels,
    status: o.status,
    gpu_model: gpu.model,
    gpu_memory_gb: gpu.memoryGb,
    region: gpu.region || null,
    attributes: { cuda_cores: gpu.cudaCores, compute_capability: gpu.computeCapability || null, average_rating: gpu.averageRating },
    created_at: iso(o.createdAt),
  };
}

/** An offer with its GPU and miner as they are now (GET /v1/marketplace/miner-offers). */
export function minerOfferJson(gpu: Gpu) {
  const g = gpuJson(gpu);
  return { ...offerJson(gpu), miner: { miner_id: g.miner_id, owner_id: g.owner_id, gpu_status: g.status, last_heartbeat_at: g.last_heartbeat_at } };
}
