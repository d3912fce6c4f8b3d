import { invalid } from '../../../../lib/errors';
import { GPU_LIMITS as L } from '../../../../lib/gpuLimits';
import { MICRO_PER_UNIT } from '../../../../lib/money';
import { requireSafeText } from '../../../../lib/text';

/** Bookings last at most 720 hours: no offer can ask for more. */
export const MAX_OFFER_HOURS = 720;

export interface OfferTerms {
  priceMicro: number;
  minHours: number;
  maxHours: number;
  models: string[];
  status: 'open' | 'closed';
}

/** An owner's offer, checked: a price, hours within 0–720 with min ≤ max, at most 32 model names. */
export function cleanOffer(input: { pricePerHourMicro: number; minHours: number; maxHours: number; supportedModels: string[]; status: string }): OfferTerms {
  const price = input.pricePerHourMicro;
  if (!Number.isSafeInteger(price) || price <= 0) throw invalid('price_per_hour', 'must be greater than 0');
  if (price > L.priceMax * MICRO_PER_UNIT) throw invalid('price_per_hour', `must be at most ${L.priceMax}`);
  const minHours = input.minHours || 1;
  const maxHours = input.maxHours || 24;
  for (const [field, value] of [['min_hours', minHours], ['max_hours', maxHours]] as const) {
    if (!Number.isFinite(value) || value <= 0 || value > MAX_OFFER_HOURS) throw invalid(field, `must be more than 0 and at most ${MAX_OFFER_HOURS}`);
  }
  if (minHours > maxHours) throw invalid('min_hours', `must not exceed max_hours (${minHours} > ${maxHours})`);
  if (input.supportedModels.length > 32) throw invalid('supported_models', 'must have at most 32 items');
  const models = [...new Set(input.supportedModels.map((m, i) => {
    const name = requireSafeText(`supported_models[${i}]`, m.trim());
    if (!name || name.length > 100) throw invalid(`supported_models[${i}]`, 'must be 1-100 characters');
    return name;
  }))];
  const status = input.status || 'open';
  if (status !== 'open' && status !== 'closed') throw invalid('status', 'must be open or closed');
  return { priceMicro: price, minHours, maxHours, models, status };
}
