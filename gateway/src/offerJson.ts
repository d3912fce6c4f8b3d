import type { Gpu } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { toUnits } from '../../lib/money';
import { gpuJson } from './gpuJson';
import { int, named, num, object, str, strings, strOrNull, timeOrNull } from './answers';

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

const offerProperties = {
  id: str, gpu_id: str, provider: str, miner_id: str, capacity: int, gpu_count: int, price: num, price_per_hour: num, min_hours: num, max_hours: num,
  supported_models: strings, status: { type: 'string', enum: ['open', 'reserved', 'closed'] }, gpu_model: str, gpu_memory_gb: int, region: strOrNull,
  attributes: object({ cuda_cores: int, compute_capability: strOrNull, average_rating: num }), created_at: timeOrNull,
};
const OFFER_EXAMPLE = {
  id: 'ofr_5n7p9q1r3s5t7v9w1x3y', gpu_id: 'gpu_8c1k2m3n4p5q6r7s8t9v', provider: 'acme', miner_id: 'h200-host', capacity: 1, gpu_count: 1, price: 3.2,
  price_per_hour: 3.2, min_hours: 1, max_hours: 8, supported_models: ['llama', 'sdxl'], status: 'open', gpu_model: 'NVIDIA H200', gpu_memory_gb: 140,
  region: 'eu-west', attributes: { cuda_cores: 0, compute_capability: '9.0', average_rating: 4.5 }, created_at: '2026-12-03T08:00:00.000Z',
};
export const offerSchema = named("Offer", "A GPU's offer: price per hour, the hours it may be booked for, supported models", object(offerProperties), OFFER_EXAMPLE);
export const minerOfferSchema = named('MinerOffer', 'An offer with its miner and GPU status now', object({
  ...offerProperties, miner: object({ miner_id: str, owner_id: str, gpu_status: str, last_heartbeat_at: timeOrNull }),
}));
