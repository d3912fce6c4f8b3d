import { mulDivRound } from '../../../../lib/money';

/**
 * The demand pricing rules, pure and deterministic (no clock reads, no randomness):
 *
 * 1. Instant utilisation of a model: u = booked GPUs / online GPUs (0 with none online),
 *    where booked means a live booking covers now.
 * 2. Smoothing in time, not in number of events: the utilisation the multiplier follows moves
 *    toward u by a share 1 − e^(−Δt/τ) of the gap, Δt being the time since the last
 *    computation. A burst of events arriving together therefore moves it no more than one
 *    event would; a change has to last about τ to count in full.
 * 3. Multiplier (piecewise linear, continuous, non-decreasing, bounded 0.8–2.0):
 *      s ≤ 0.5: m = 0.8 + 0.2·s/0.5      (idle GPUs get up to 20% cheaper)
 *      s > 0.5: m = 1.0 + 1.0·(s − 0.5)/0.5 (a sold-out model costs up to twice its base)
 *    rounded to a basis point (1/10,000).
 * 4. Prices: base (admin price, else the median listed price of online GPUs) × multiplier,
 *    and a quote is the GPU's own listed price × multiplier; each is one rounding step
 *    (half up, to the micro-unit).
 * A model seen for the first time starts at the neutral utilisation 0.5 (multiplier 1.0),
 * so a new market opens at its listed prices and then follows demand.
 */

export const BP = 10_000;
export const MIN_MULTIPLIER_BP = 8_000;
export const MAX_MULTIPLIER_BP = 20_000;
/** The utilisation at which the multiplier is exactly 1.0, and where new models start. */
export const NEUTRAL_UTILIZATION = 0.5;

/** Booked over online, in [0, 1]. */
export function instantUtilization(online: number, booked: number): number {
  if (online <= 0) return 0;
  return Math.min(1, Math.max(0, booked / online));
}

/** Moves `previous` toward `target` by the share of the gap that `elapsedMs` earns with time constant `tauMs`. */
export function smoothUtilization(previous: number, target: number, elapsedMs: number, tauMs: number): number {
  if (!(elapsedMs > 0)) return previous;
  if (!(tauMs > 0)) return target;
  const kept = Math.exp(-elapsedMs / tauMs);
  return target + (previous - target) * kept;
}

/** The demand multiplier for a (smoothed) utilisation, in basis points. */
export function multiplierBp(utilization: number): number {
  const s = Math.min(1, Math.max(0, Number.isFinite(utilization) ? utilization : 0));
  const m = s <= NEUTRAL_UTILIZATION ? 0.8 + (0.2 * s) / NEUTRAL_UTILIZATION : 1 + (s - NEUTRAL_UTILIZATION) / (1 - NEUTRAL_UTILIZATION);
  return Math.min(MAX_MULTIPLIER_BP, Math.max(MIN_MULTIPLIER_BP, Math.round(m * BP)));
}

/** A price × a multiplier in basis points, rounded half up to the micro-unit. */
export function applyMultiplier(priceMicro: number, bp: number): number {
  return mulDivRound(priceMicro, bp, BP);
}

/** Utilisation as basis points for messages and storage. */
export const toBp = (fraction: number): number => Math.round(Math.min(1, Math.max(0, fraction)) * BP);

/**
 * The median of integer prices: the middle one, or the mean of the two middle ones rounded
 * half up. 0 for none.
 */
export function medianPrice(prices: number[]): number {
  if (!prices.length) return 0;
  const sorted = [...prices].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : mulDivRound(sorted[mid - 1] + sorted[mid], 1, 2);
}

/** The p-th percentile (0–1) of integer prices, linear between neighbours, rounded half up. */
export function percentilePrice(prices: number[], p: number): number {
  if (!prices.length) return 0;
  const sorted = [...prices].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return Math.round(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo));
}

/**
 * Whether a new price is a history point: it moved by more than `thresholdBp` from the last
 * point, or the last point is at least `intervalMs` old (or there is none).
 */
export function isHistoryPoint(
  last: { priceMicro: number; at: Date } | undefined,
  priceMicro: number,
  at: Date,
  thresholdBp: number,
  intervalMs: number,
): { record: boolean; moved: boolean } {
  if (!last) return { record: true, moved: false };
  const moved = Math.abs(priceMicro - last.priceMicro) * BP > thresholdBp * Math.max(last.priceMicro, 1);
  return { record: moved || at.getTime() - last.at.getTime() >= intervalMs, moved };
}
