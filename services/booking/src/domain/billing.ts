import { invalid } from '../../../../lib/errors';
import { mulDivRound } from '../../../../lib/money';

/** Bookings last more than 0 and at most 720 hours (30 days). */
export const MAX_DURATION_HOURS = 720;

/**
 * Hours → whole seconds. The booked length is stored in seconds; hours × 3600 is rounded to
 * the nearest second (so 0.5 h is 1800 s, and 1/3 h is 1200 s).
 */
export function durationSeconds(hours: number, field = 'duration_hours'): number {
  if (typeof hours !== 'number' || !Number.isFinite(hours)) throw invalid(field, 'must be a number of hours');
  if (hours <= 0) throw invalid(field, 'must be greater than 0');
  if (hours > MAX_DURATION_HOURS) throw invalid(field, `must be at most ${MAX_DURATION_HOURS} hours`);
  const seconds = Math.round(hours * 3600);
  if (seconds < 1) throw invalid(field, 'must be at least one second');
  return seconds;
}

/**
 * The total of a booking: hourly price (integer micro-AITBC) × seconds / 3600, rounded half
 * up to the micro-unit. This is the one rounding step between a price and a total.
 */
export function totalCost(pricePerHourMicro: number, seconds: number): number {
  return mulDivRound(pricePerHourMicro, seconds, 3600);
}

/**
 * Settles a booking that ends after `usedSeconds` of `durationSeconds`: the charge is the
 * total's share for the time used (rounded half up), the refund is the rest, so
 * charged + refund = total exactly, and 0 ≤ refund ≤ total.
 */
export function settle(total: number, duration: number, usedSeconds: number): { charged: number; refund: number } {
  const used = Math.min(Math.max(Math.floor(usedSeconds), 0), duration);
  const charged = mulDivRound(total, used, duration);
  return { charged, refund: total - charged };
}

/** Seconds used from start to `at`, counting every started second (per-second billing). */
export function secondsUsed(start: Date, at: Date): number {
  return Math.max(0, Math.ceil((at.getTime() - start.getTime()) / 1000));
}

/** `at`, or `earliest` when `at` is before it: a booking never ends before it was made. */
export function notBefore(at: Date, earliest: Date): Date {
  return at < earliest ? earliest : at;
}
