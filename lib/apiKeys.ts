import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Caller, isAccountId, Role } from './caller';
import type { ConfigReader } from './config';

export const ROLES: Record<string, Role> = {
  client: Role.ROLE_CLIENT, provider: Role.ROLE_PROVIDER, admin: Role.ROLE_ADMIN, service: Role.ROLE_SERVICE,
};
/** Shorter keys are refused at start-up: a key is a bearer secret, and 24 random characters are out of reach of guessing. */
export const MIN_KEY_LENGTH = 24;

export interface KeyEntry {
  role: string;
  account: string;
  key: string;
}

interface StoredKey {
  hash: Buffer;
  caller: Caller;
}

/** API keys, kept only as SHA-256 hashes; the plain keys are dropped once hashed. */
export interface KeyStore {
  /** The caller a presented key belongs to, or undefined for a missing or unknown key. */
  authenticate(presented: string | undefined): Caller | undefined;
  size: number;
}

const hash = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Parses `role:account:key,…` (AITBC_API_KEYS). Throws a readable error naming the bad entry
 * (without echoing the key).
 */
export function parseKeyList(text: string): KeyEntry[] {
  const entries = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!entries.length) throw new Error('AITBC_API_KEYS has no entries; expected role:account:key,…');
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const [role, account, ...rest] = entry.split(':');
    const key = rest.join(':');
    const where = `AITBC_API_KEYS entry ${i + 1}`;
    if (!(role in ROLES)) throw new Error(`${where}: role must be client, provider, admin or service, got "${role}"`);
    if (!isAccountId(account ?? '')) throw new Error(`${where}: account must be 1-64 letters, digits, ".", "_" or "-"`);
    if (key.length < MIN_KEY_LENGTH) throw new Error(`${where} (${role}:${account}): key must be at least ${MIN_KEY_LENGTH} characters, got ${key.length}`);
    if (seen.has(key)) throw new Error(`${where}: the same key appears twice`);
    seen.add(key);
    return { role, account, key };
  });
}

/** Builds the key store from parsed entries. */
export function createKeyStore(entries: KeyEntry[]): KeyStore {
  // Indexed by the hash's hex: finding the entry leaks nothing about any key, and the final
  // comparison of hashes is constant-time.
  const byHash = new Map<string, StoredKey>();
  for (const e of entries) {
    const h = hash(e.key);
    byHash.set(h.toString('hex'), { hash: h, caller: { accountId: e.account, role: ROLES[e.role] } });
  }
  return {
    size: byHash.size,
    authenticate(presented) {
      if (!presented) return undefined;
      const h = hash(presented);
      const stored = byHash.get(h.toString('hex'));
      return stored && timingSafeEqual(stored.hash, h) ? stored.caller : undefined;
    },
  };
}

/** A fresh random key with a role prefix, for development key files. */
export function generateKey(role: string): string {
  return `aitbc_${role}_${randomBytes(18).toString('base64url')}`;
}

/**
 * The key a request presents: `X-Api-Key`, else `Authorization: Bearer …`. Empty means none;
 * `conflict` when both are sent and name different keys (which one was meant is not ours to guess).
 */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined | { conflict: true } {
  const apiKey = headers['x-api-key'];
  const direct = (Array.isArray(apiKey) ? apiKey[0] : apiKey)?.trim();
  const auth = headers.authorization;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec((Array.isArray(auth) ? auth[0] : auth) ?? '')?.[1];
  if (direct && bearer && direct !== bearer) return { conflict: true };
  return direct || bearer;
}

/** Reads AITBC_API_KEYS (or `fallback`), recording a malformed list as a config problem. */
export function readKeyList(r: ConfigReader, fallback?: string): string | undefined {
  const keys = r.optionalString('AITBC_API_KEYS') ?? fallback;
  if (keys) {
    try {
      parseKeyList(keys);
    } catch (err) {
      r.problem((err as Error).message);
    }
  }
  return keys;
}
