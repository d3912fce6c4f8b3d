import type { ModelPrice, PricePoint } from '../../lib/gen/aitbc/marketplace/v1/pricing';
import { formatMoney, toUnits } from '../../lib/money';
import { int, named, num, object, str, strOrNull, time } from './answers';

const ratio = (bp: number) => bp / 10_000;

/** A one-line advice a person can act on, from the same figures the answer carries. */
function summary(p: ModelPrice): string {
  const parts = [`${p.availableGpus} of ${p.totalGpus} ${p.model} GPUs available now`];
  if (p.cheapestGpuId) parts.push(`cheapest: ${p.cheapestGpuId} at ${formatMoney(p.cheapestPriceMicro)} AITBC/h`);
  const m = ratio(p.multiplierBp);
  if (m >= 1.25) parts.push(`demand is high (x${m}): book soon or expect higher prices`);
  else if (m <= 0.9) parts.push(`demand is low (x${m}): a good time to book`);
  else parts.push(`demand is normal (x${m})`);
  if (p.fairBandBookings) parts.push(`recent bookings paid ${formatMoney(p.fairLowMicro)}–${formatMoney(p.fairHighMicro)} AITBC/h`);
  if (p.suggestedPriceMicro) parts.push(`providers: list at about ${formatMoney(p.suggestedPriceMicro)} AITBC/h`);
  return `${parts.join('; ')}.`;
}

/** The pricing answer of CONTRACT.md, plus demand figures and structured recommendations. */
export function pricingJson(p: ModelPrice) {
  const cheapest = p.cheapestGpuId ? { gpu_id: p.cheapestGpuId, price_per_hour: toUnits(p.cheapestPriceMicro) } : null;
  return {
    model: p.model,
    model_key: p.modelKey,
    base_price: toUnits(p.basePriceMicro),
    base_price_source: p.basePriceSource,
    current_price: toUnits(p.currentPriceMicro),
    demand_multiplier: ratio(p.multiplierBp),
    utilization: ratio(p.utilizationBp),
    static_pricing: {
      min_price: toUnits(p.minPriceMicro),
      max_price: toUnits(p.maxPriceMicro),
      average_price: toUnits(p.averagePriceMicro),
      available_gpus: p.availableGpus,
      total_gpus: p.totalGpus,
      recommended_gpu: cheapest,
    },
    demand: {
      online_gpus: p.onlineGpus,
      booked_gpus: p.bookedGpus,
      recent_bookings: p.recentBookings,
      instant_utilization: ratio(p.instantUtilizationBp),
    },
    recommendation: {
      summary: summary(p),
      for_clients: {
        cheapest_gpu: cheapest,
        fair_price_band: p.fairBandBookings
          ? { low: toUnits(p.fairLowMicro), high: toUnits(p.fairHighMicro), bookings: p.fairBandBookings } : null,
      },
      for_providers: { suggested_price_per_hour: toUnits(p.suggestedPriceMicro) },
    },
    updated_at: p.updatedAt?.toISOString(),
  };
}

export const pricePointJson = (p: PricePoint) => ({
  at: p.at?.toISOString(),
  price: toUnits(p.priceMicro),
  base_price: toUnits(p.basePriceMicro),
  multiplier: ratio(p.multiplierBp),
  utilization: ratio(p.utilizationBp),
  online_gpus: p.onlineGpus,
  booked_gpus: p.bookedGpus,
});

const gpuPrice = { type: ['object', 'null'], additionalProperties: false, required: ['gpu_id', 'price_per_hour'], properties: { gpu_id: str, price_per_hour: num } } as const;

export const modelPriceSchema = named('ModelPrice', "A model's price now: base, demand multiplier, supply and recommendations (AITBC per hour)", object({
  model: str, model_key: str, base_price: num, base_price_source: str, current_price: num, demand_multiplier: num, utilization: num,
  static_pricing: object({ min_price: num, max_price: num, average_price: num, available_gpus: int, total_gpus: int, recommended_gpu: gpuPrice }),
  demand: object({ online_gpus: int, booked_gpus: int, recent_bookings: int, instant_utilization: num }),
  recommendation: object({
    summary: str,
    for_clients: object({
      cheapest_gpu: gpuPrice,
      fair_price_band: { type: ['object', 'null'], additionalProperties: false, required: ['low', 'high', 'bookings'], properties: { low: num, high: num, bookings: int } },
    }),
    for_providers: object({ suggested_price_per_hour: num }),
  }),
  updated_at: time,
}, ['updated_at']));

export const priceHistorySchema = named('PriceHistory', "A model's price over time, oldest first", object({
  model_key: str,
  points: { type: 'array', items: object({ at: time, price: num, base_price: num, multiplier: num, utilization: num, online_gpus: int, booked_gpus: int }, ['at']) },
  next_cursor: strOrNull,
}));
