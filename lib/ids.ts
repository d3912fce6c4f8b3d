import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case

/**
 * A new opaque identifier: a short type prefix and 20 random base32 characters (100 bits).
 * Callers must treat ids as opaque strings; only the prefix hints at the kind.
 */
export function newId(prefix: string): string {
  const bytes = randomBytes(20);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 31];
  return `${prefix}_${out}`;
}

const ID = /^[a-z]{2,8}_[0-9a-z]{20}$/;

/** True when the text has the shape of an id made by newId (any prefix). */
export function isId(text: string, prefix?: string): boolean {
  return ID.test(text) && (prefix === undefined || text.startsWith(`${prefix}_`));
}
