import { invalid } from './errors';

/**
 * Keyset cursors for lists ordered newest first by (time, id): opaque, URL-safe text naming
 * the last row of a page. A cursor that was not made here is refused with a 400.
 */
export function encodeTimeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

export function decodeTimeCursor(text: string): { at: string; id: string } {
  try {
    if (text.length <= 300) {
      const [at, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as [unknown, unknown];
      if (typeof at === 'string' && !Number.isNaN(Date.parse(at)) && typeof id === 'string') return { at, id };
    }
  } catch {
    // fall through
  }
  throw invalid('cursor', 'is not a cursor from a previous page of this list; start again without it');
}
