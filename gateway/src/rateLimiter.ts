/**
 * Per-account token buckets: each account may make `perSecond` requests a second on
 * average, in bursts of up to `burst`. In memory, per gateway process (with N gateways an
 * account gets up to N times the rate; good enough to stop a runaway client, not a quota).
 */
export interface RateLimiter {
  /** 0 when the request may go ahead, else the seconds to wait before a token is free. */
  take(account: string): number;
}

export function createRateLimiter(perSecond: number, burst: number, now: () => number = () => performance.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  return {
    take(account) {
      const t = now();
      // Forget accounts idle long enough to have refilled: the map stays as small as the active set.
      if (t - lastSweep > 60_000) {
        lastSweep = t;
        for (const [key, b] of buckets) if (b.tokens + ((t - b.at) / 1000) * perSecond >= burst) buckets.delete(key);
      }
      const bucket = buckets.get(account) ?? { tokens: burst, at: t };
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond);
      bucket.at = t;
      buckets.set(account, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
    },
  };
}
