import type { ModelPrice, PricePoint } from '../../lib/gen/aitbc/marketplace/v1/pricing';
import { formatMoney, toUnits } from '../../lib/money';

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
