import type { Caller } from './caller';
import type { KeyDirectory } from './keyDirectory';
import type { KnownKeys } from './knownKeys';
import { type Limiter, memoryLimiters } from './limiter';

/** What checking a presented key came to. */
export type Admission = { caller: Caller } | { refused: 'unknown' } | { refused: 'throttled'; retryAfter: number };

/**
 * Keys checked against a directory, with unknown keys throttled by address (a burst, then
 * so many a second). A key not known recently reserves a token before its lookup (so a
 * burst of guesses cannot slip through while lookups are in flight); a key that turns out
 * valid gets its token back. Once an address is out of tokens, its unknown keys are refused
 * without a lookup, unless lookups of its keys are still in flight (valid keys arriving
 * together, from a NAT or a fresh start, are then looked up, not refused). A key known
 * recently is never held back: one noisy client must not lock out its neighbours. With
 * `fleet`, "recently known" is the fleet's (a key any gateway authenticated lately).
 */
export function createKeyThrottle(directory: KeyDirectory, limits: { burst: number; perSecond: number }, shared?: Limiter, fleet?: KnownKeys) {
  // Shared by the gateways when they have a store; else per process.
  const tokens = shared ?? memoryLimiters('failed-keys', limits);
  const pending = new Map<string, number>();
  return async function admit(address: string, presented: string): Promise<Admission> {
    const known = directory.recentlyKnown(presented);
    let wait = known ? 0 : await tokens.take(address);
    // A throttled address may still hold a key another gateway knows: that key goes ahead.
    if (wait && fleet && await fleet.known(presented)) wait = 0;
    if (wait && !pending.get(address)) return { refused: 'throttled', retryAfter: wait };
    pending.set(address, (pending.get(address) ?? 0) + 1);
    let caller: Caller | undefined;
    try {
      caller = await directory.authenticate(presented);
    } finally {
      const left = pending.get(address)! - 1;
      if (left) pending.set(address, left);
      else pending.delete(address);
    }
    if (caller) {
      fleet?.remember(presented);
      if (!known && !wait) await tokens.refund(address);
      return { caller };
    }
    return wait ? { refused: 'throttled', retryAfter: wait } : { refused: 'unknown' };
  };
}
