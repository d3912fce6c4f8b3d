/**
 * Token buckets by key: each key may spend `perSecond` tokens a second on average, in
 * bursts of up to `burst`. In memory, per process (with N processes a key gets up to N
 * times the rate; good enough to stop a runaway client, not a quota).
 */
export interface RateLimiter {
  /** Spends a token: 0 when the request may go ahead, else the seconds to wait before one is free. */
  take(key: string): number;
  /** Like `take` without spending: 0 while a token is free, else the seconds to wait. */
  peek(key: string): number;
  /** Gives back a token `take` spent (what it was spent on turned out not to count). */
  refund(key: string): void;
}

/** At most this many keys are remembered; past it the fullest (least recently active) go first. */
const MAX_KEYS = 100_000;

export function createRateLimiter(perSecond: number, burst: number, now: () => number = () => performance.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  const refill = (key: string, t: number) => {
    const bucket = buckets.get(key) ?? { tokens: burst, at: t };
    bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond);
    bucket.at = t;
    return bucket;
  };
  const wait = (tokens: number) => (tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / perSecond)));
  const sweep = (t: number) => {
    // Forget keys idle long enough to have refilled: the map stays as small as the active set.
    if (t - lastSweep < 60_000 && buckets.size < MAX_KEYS) return;
    lastSweep = t;
    for (const [key, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * perSecond >= burst) buckets.delete(key);
    // Still full (many keys, all busy): drop the oldest entries; they restart with a full bucket.
    for (const key of buckets.keys()) {
      if (buckets.size < MAX_KEYS) break;
      buckets.delete(key);
    }
  };
  return {
    take(key) {
      const t = now();
      sweep(t);
      const bucket = refill(key, t);
      // Re-inserted, so the map's order is least recently used first.
      buckets.delete(key);
      buckets.set(key, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return wait(bucket.tokens);
    },
    refund(key) {
      const bucket = buckets.get(key);
      if (bucket) bucket.tokens = Math.min(burst, bucket.tokens + 1);
    },
    peek(key) {
      const bucket = buckets.get(key);
      return bucket ? wait(refill(key, now()).tokens) : 0;
    },
  };
}
