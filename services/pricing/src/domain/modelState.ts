import { identifyModel } from '../../../../lib/modelCatalogue';
import type { Demand, ModelRow, PricePointRow, Supply } from '../store';
import {
  applyMultiplier, instantUtilization, isHistoryPoint, medianPrice, multiplierBp, NEUTRAL_UTILIZATION, percentilePrice,
  smoothUtilization, toBp,
} from './demandPricing';

export interface PricingParams {
  /** Smoothing time constant τ. */
  smoothingMs: number;
  /** A history point when the price moves by more than this (basis points)… */
  historyThresholdBp: number;
  /** …or when the last point is this old. */
  historyIntervalMs: number;
}

export interface NextState {
  row: ModelRow;
  /** A history point to record, if one is due. */
  point?: PricePointRow;
  /** Set when the price moved past the threshold (announce it as price.changed). */
  moved?: { previousPriceMicro: number };
}

const catalogueName = (key: string): string | undefined => {
  const identity = identifyModel(key);
  return identity.known ? identity.name : undefined;
};

const NO_SUPPLY = (key: string, model: string): Supply => ({
  model_key: key, model, total: 0, online: 0, booked: 0, online_prices: [], all_prices: [], cheapest_gpu_id: null, cheapest_price_micro: null,
});

/**
 * A model's next pricing state from its previous one (undefined for a new model), what is
 * on offer and booked now, and the time: deterministic, no I/O (see demandPricing.ts for
 * the formula).
 */
export function nextModelState(
  key: string,
  prev: ModelRow | undefined,
  supplyNow: Supply | undefined,
  demand: Demand | undefined,
  now: Date,
  params: PricingParams,
): NextState {
  const supply = supplyNow ?? NO_SUPPLY(key, prev?.model ?? key);
  const instant = instantUtilization(supply.online, supply.booked);
  const utilization = prev
    ? smoothUtilization(prev.utilization, instant, now.getTime() - new Date(prev.computed_at).getTime(), params.smoothingMs)
    : NEUTRAL_UTILIZATION;
  const multiplier = multiplierBp(utilization);

  const admin = prev?.admin_price_micro ?? null;
  let base: { price: number; source: string };
  if (admin) base = { price: admin, source: 'admin' };
  else if (supply.online_prices.length) base = { price: medianPrice(supply.online_prices), source: 'median_listed' };
  else if (supply.all_prices.length) base = { price: medianPrice(supply.all_prices), source: 'median_listed_all' };
  else base = { price: prev?.base_price_micro ?? 0, source: prev?.base_price_micro ? 'last_known' : 'none' };
  const current = applyMultiplier(base.price, multiplier);

  const prices = demand?.prices ?? [];
  const total = supply.all_prices.reduce((a, b) => a + b, 0);
  const row: ModelRow = {
    model_key: key,
    // The catalogue's name for a known model ("GeForce RTX 4090"), else the registered one.
    model: catalogueName(key) ?? (prev?.model || supply.model),
    admin_price_micro: admin,
    base_price_micro: base.price,
    base_price_source: base.source,
    utilization,
    computed_at: now,
    multiplier_bp: multiplier,
    current_price_micro: current,
    instant_utilization_bp: toBp(instant),
    total_gpus: supply.total,
    online_gpus: supply.online,
    booked_gpus: supply.booked,
    available_gpus: supply.online - supply.booked,
    recent_bookings: demand?.recent ?? 0,
    min_price_micro: supply.all_prices.length ? Math.min(...supply.all_prices) : 0,
    max_price_micro: supply.all_prices.length ? Math.max(...supply.all_prices) : 0,
    average_price_micro: supply.all_prices.length ? Math.round(total / supply.all_prices.length) : 0,
    cheapest_gpu_id: supply.cheapest_gpu_id ?? '',
    cheapest_price_micro: supply.cheapest_price_micro === null ? 0 : applyMultiplier(supply.cheapest_price_micro, multiplier),
    fair_low_micro: percentilePrice(prices, 0.25),
    fair_high_micro: percentilePrice(prices, 0.75),
    fair_band_bookings: prices.length,
    last_point_price_micro: prev?.last_point_price_micro ?? null,
    last_point_at: prev?.last_point_at ?? null,
  };
  if (!base.price) return { row };

  const last = row.last_point_at && row.last_point_price_micro !== null
    ? { priceMicro: row.last_point_price_micro, at: new Date(row.last_point_at) } : undefined;
  const due = isHistoryPoint(last, current, now, params.historyThresholdBp, params.historyIntervalMs);
  if (!due.record) return { row };
  row.last_point_price_micro = current;
  row.last_point_at = now;
  return {
    row,
    point: {
      model_key: key, at: now, price_micro: current, base_price_micro: base.price, multiplier_bp: multiplier,
      utilization_bp: toBp(utilization), online_gpus: supply.online, booked_gpus: supply.booked,
    },
    moved: due.moved && last ? { previousPriceMicro: last.priceMicro } : undefined,
  };
}
