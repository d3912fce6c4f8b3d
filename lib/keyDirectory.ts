import { createHash } from 'node:crypto';
import type { KeyStore } from './apiKeys';
import type { Caller } from './caller';
import type { AccountsServiceClient } from './gen/aitbc/marketplace/v1/accounts';
import type { AsyncClient } from './grpcClient';

/** Where keys are looked up: the accounts service (with a cache), or a fixed list (tests). */
export interface KeyDirectory {
  /**
   * The account a presented key belongs to; undefined for a missing, unknown or revoked key.
   * `fresh`: asked of the key store now, not answered from the cache (for requests that
   * must not outlive a revocation, such as minting a new key).
   */
  authenticate(presented: string | undefined, options?: { fresh?: boolean }): Promise<Caller | undefined>;
  /**
   * Whether the key was valid recently, or is being looked up right now (cheap, no call):
   * such a key is let past the throttle on unknown ones, and concurrent uses of one key
   * count once.
   */
  recentlyKnown(presented: string): boolean;
}

/** How long an answer is reused: a revoked key stops working within this (plus one call). */
export const KEY_CACHE_MS = 1000;
const KNOWN_MS = 10 * 60_000;
const MAX_ENTRIES = 100_000;

const sha256 = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Keys checked with the accounts service, which keeps them (as hashes; only the hash is
 * sent). Answers, yes or no, are reused for KEY_CACHE_MS; concurrent lookups of one key
 * share one call.
 */
export function accountsKeyDirectory(client: AsyncClient<AccountsServiceClient>, cacheMs = KEY_CACHE_MS): KeyDirectory {
  const answers = new Map<string, { caller?: Caller; at: number }>();
  const inFlight = new Map<string, Promise<Caller | undefined>>();
  const known = new Map<string, number>();
  const remember = <V>(map: Map<string, V>, key: string, value: V) => {
    map.delete(key);
    map.set(key, value);
    // The oldest go first once the map is full: memory stays bounded whatever is presented.
    if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
  };
  return {
    async authenticate(presented, options = {}) {
      if (!presented) return undefined;
      const hash = sha256(presented);
      const id = hash.toString('hex');
      const ask = () => client.authenticate({ caller: undefined, keySha256: hash }, { deadlineMs: 1000 }).then((res) => {
        remember(answers, id, { caller: res.account, at: performance.now() });
        if (res.account) remember(known, id, performance.now());
        return res.account;
      });
      // A fresh answer shares no lookup: one already in flight may have started before a revocation.
      if (options.fresh) return ask();
      const cached = answers.get(id);
      if (cached && performance.now() - cached.at < cacheMs) return cached.caller;
      let pending = inFlight.get(id);
      if (!pending) {
        pending = ask().finally(() => inFlight.delete(id));
        inFlight.set(id, pending);
      }
      return pending;
    },
    recentlyKnown(presented) {
      const id = sha256(presented).toString('hex');
      const at = known.get(id);
      return inFlight.has(id) || (at !== undefined && performance.now() - at < KNOWN_MS);
    },
  };
}

/** A fixed key list as a directory (tests, and processes without an accounts service). */
export function localKeyDirectory(keys: KeyStore): KeyDirectory {
  return {
    authenticate: async (presented) => keys.authenticate(presented),
    recentlyKnown: (presented) => keys.authenticate(presented) !== undefined,
  };
}
