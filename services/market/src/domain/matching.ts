import { withinOfferHours } from '../../../../lib/offerHours';

/** What the market keeps of every GPU it lists: whose it is, what it is, where, at what price. */
export interface ListedGpu {
  gpu_id: string;
  owner_id: string;
  miner_id: string;
  model: string;
  model_key: string;
  memory_gb: number;
  region: string;
  price_micro: number;
}

/** A free GPU as the matcher sees it. */
export interface FreeGpu extends ListedGpu {
  average_rating: number;
  /** When its next booking starts (ms since the epoch); null: none ahead. */
  free_until_ms: number | null;
  /** Its offer's hours (absent or null: no offer, any length). */
  offer_min_hours?: number | null;
  offer_max_hours?: number | null;
}

/** What a bid asks for. */
export interface BidWants {
  bid_id: string;
  provider: string;
  capacity: number;
  price_micro: number;
  gpu_model: string;
  memory_min: number;
  region: string;
  /** The GPU must stay free until then (ms since the epoch): the bid's whole window. */
  needed_until_ms: number;
  /** How long the bookings last. */
  duration_seconds: number;
}

/** Case and spacing do not matter in a model filter ("rtx4090" finds "RTX 4090"). */
export const squash = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '');

/**
 * Whether a model filter names this model: its catalogue key, or whole words of its name in a
 * row ("4090", "rtx-4090" and "RTX 4090" find "NVIDIA RTX 4090"; "L4" does not find "L40S").
 */
export function namesModel(filter: string, model: string, modelKey: string): boolean {
  const wanted = squash(filter);
  if (wanted === squash(modelKey)) return true;
  const words = model.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let run = '';
    for (let j = i; j < words.length && run.length < wanted.length; j++) run += words[j];
    if (run === wanted) return true;
  }
  return false;
}

/** Whether a free GPU meets a bid: price, provider (account or miner, or anyone), model, memory, region, the offer's hours. */
export function meets(gpu: FreeGpu, bid: BidWants): boolean {
  if (gpu.price_micro > bid.price_micro) return false;
  if (bid.provider !== '*' && bid.provider !== gpu.owner_id && bid.provider !== gpu.miner_id) return false;
  if (bid.gpu_model && !namesModel(bid.gpu_model, gpu.model, gpu.model_key)) return false;
  if (gpu.memory_gb < bid.memory_min) return false;
  if (gpu.free_until_ms !== null && gpu.free_until_ms < bid.needed_until_ms) return false;
  if (!withinOfferHours(bid.duration_seconds, gpu.offer_min_hours ?? null, gpu.offer_max_hours ?? null)) return false;
  return !bid.region || gpu.region === bid.region;
}

/** The market's order of choice: cheapest first, then best rated, then by id (stable). */
export const byPreference = (a: FreeGpu, b: FreeGpu) =>
  a.price_micro - b.price_micro || b.average_rating - a.average_rating || a.gpu_id.localeCompare(b.gpu_id);

/**
 * Plans fills: bids in the order given (highest price first, then oldest), each taking the
 * preferred GPUs that meet it from what is still free, all `capacity` or none. A GPU goes to
 * one bid at most. Returns, per bid that can be filled, its GPUs in preference order followed
 * by the other candidates (spares for when one is taken meanwhile).
 */
export function planFills(bids: BidWants[], free: FreeGpu[]): Map<string, FreeGpu[]> {
  const available = [...free].sort(byPreference);
  const taken = new Set<string>();
  const plans = new Map<string, FreeGpu[]>();
  for (const bid of bids) {
    const fits = available.filter((g) => !taken.has(g.gpu_id) && meets(g, bid));
    if (fits.length < bid.capacity) continue;
    for (const g of fits.slice(0, bid.capacity)) taken.add(g.gpu_id);
    plans.set(bid.bid_id, fits);
  }
  return plans;
}
