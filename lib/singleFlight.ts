/**
 * Coalesces concurrent calls with the same key into one: while a call for `key` is in
 * flight, later callers get its promise instead of starting another. Nothing is kept once
 * it settles, so no answer is older than the call it joined (no TTL, no invalidation).
 */
export function singleFlight<K, V>(fn: (key: K) => Promise<V>, keyOf: (key: K) => string): (key: K) => Promise<V> {
  const inFlight = new Map<string, Promise<V>>();
  return (arg) => {
    const key = keyOf(arg);
    let pending = inFlight.get(key);
    if (!pending) {
      pending = fn(arg).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}
