import { withinOfferHours } from '../../../../lib/offerHours';
import { byPreference, type FreeGpu } from './matching';

/** A GPU that meets the requirements but not everything a rent asked for, as the market sees it. */
export interface Candidate extends FreeGpu {
  /** When the booking that covers now ends; null: free now. */
  busy_until: Date | null;
  /** When its next booking starts (after now); null: none ahead. */
  next_start: Date | null;
}

/** What a rent asked for beyond the requirements. */
export interface RentAsk {
  /** null: no price limit. */
  max_price_micro: number | null;
  duration_seconds: number;
  now_ms: number;
}

export interface Alternative {
  gpu_id: string;
  model: string;
  price_per_hour_micro: number;
  /** Why it was not rented, in words. */
  why: string;
  /** When it is free (for one booked now). */
  free_at?: string;
}

/** Every reason a candidate was not rented, in words (empty: it fits). */
export function reasonsAgainst(g: Candidate, ask: RentAsk): string[] {
  const why: string[] = [];
  if (ask.max_price_micro !== null && g.price_micro > ask.max_price_micro) why.push('over your price');
  if (g.busy_until) why.push(`booked until ${g.busy_until.toISOString()}`);
  else if (g.next_start && g.next_start.getTime() < ask.now_ms + ask.duration_seconds * 1000) why.push(`booked from ${g.next_start.toISOString()}`);
  const min = g.offer_min_hours ?? null;
  const max = g.offer_max_hours ?? null;
  if (!withinOfferHours(ask.duration_seconds, min, max)) why.push(`its offer takes ${min} to ${max} hours`);
  return why;
}

/**
 * The nearest alternatives to a rent that found nothing: the three preferred GPUs free now
 * (each saying why it was passed over), then the three that are free soonest.
 */
export function alternativesFor(candidates: Candidate[], ask: RentAsk): Alternative[] {
  const of = (g: Candidate, extra: Partial<Alternative> = {}): Alternative => ({
    gpu_id: g.gpu_id, model: g.model, price_per_hour_micro: g.price_micro, why: reasonsAgainst(g, ask).join('; '), ...extra,
  });
  const freeNow = candidates.filter((g) => !g.busy_until).sort(byPreference).slice(0, 3).map((g) => of(g));
  const soonest = candidates.filter((g) => g.busy_until).sort((a, b) => a.busy_until!.getTime() - b.busy_until!.getTime()).slice(0, 3)
    .map((g) => of(g, { free_at: g.busy_until!.toISOString() }));
  return [...freeNow, ...soonest];
}
