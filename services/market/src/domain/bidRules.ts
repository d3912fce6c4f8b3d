import { isAccountId } from '../../../../lib/caller';
import { invalid } from '../../../../lib/errors';
import { requireSafeText } from '../../../../lib/text';

export const MAX_CAPACITY = 64;
export const DEFAULT_DURATION_S = 3600;
const DAY_MS = 86_400_000;

export interface BidInput {
  provider: string;
  capacity: number;
  priceMicro: number;
  notes: string;
  durationSeconds: number;
  gpuModel: string;
  memoryMin: number;
  region: string;
  expiresAt?: Date;
}

/** A bid, checked: a whole capacity 1–64, a price, a provider that is an account or miner id or "*", an expiry within 30 days. */
export function cleanBid(input: BidInput, now: Date) {
  if (!Number.isInteger(input.capacity) || input.capacity < 1 || input.capacity > MAX_CAPACITY) throw invalid('capacity', `must be a whole number from 1 to ${MAX_CAPACITY}`);
  if (!Number.isSafeInteger(input.priceMicro) || input.priceMicro <= 0) throw invalid('price', 'must be more than 0');
  const provider = input.provider.trim() || '*';
  if (provider !== '*' && !isAccountId(provider)) throw invalid('provider', 'must be an account or miner id, or * for anyone');
  const notes = requireSafeText('notes', input.notes.trim(), true);
  if (notes.length > 1000) throw invalid('notes', 'must be at most 1000 characters');
  const durationSeconds = input.durationSeconds || DEFAULT_DURATION_S;
  if (durationSeconds < 1 || durationSeconds > 720 * 3600) throw invalid('duration_hours', 'must be more than 0 and at most 720');
  const gpuModel = requireSafeText('gpu_model', input.gpuModel.trim());
  if (gpuModel.length > 100) throw invalid('gpu_model', 'must be at most 100 characters');
  const region = requireSafeText('region', input.region.trim());
  if (region.length > 64) throw invalid('region', 'must be at most 64 characters');
  const expiresAt = input.expiresAt ?? new Date(now.getTime() + DAY_MS);
  if (Number.isNaN(expiresAt.getTime()) || expiresAt <= now) throw invalid('expires_at', 'must be in the future');
  if (expiresAt.getTime() > now.getTime() + 30 * DAY_MS) throw invalid('expires_at', 'must be within 30 days');
  return { provider, capacity: input.capacity, price_micro: input.priceMicro, notes, duration_seconds: durationSeconds, gpu_model: gpuModel, memory_min: input.memoryMin, region, expires_at: expiresAt };
}
