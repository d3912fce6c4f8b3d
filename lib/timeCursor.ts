import { invalid } from './errors';
import { isId } from './ids';

/**
 * Keyset cursors for lists ordered newest first by (time, id): opaque, URL-safe text naming
 * the last row of a page. A cursor that was not made here is refused with a 400.
 */
export function encodeTimeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

export function decodeTimeCursor(text: string): { at: string; id: string } {
  try {
    if (text.length <= 300 && /^[A-Za-z0-9_-]+$/.test(text)) {
      const parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
      if (Array.isArray(parsed) && parsed.length === 2) {
        const [at, id] = parsed as unknown[];
        if (isInstant(at) && isCursorId(id)) return { at, id };
      }
    }
  } catch {
    // fall through
  }
  throw invalid('cursor', 'is not a cursor from a previous page of this list; start again without it');
}

/**
 * An instant as this service writes it (`toISOString`: 2026-12-02T08:00:00.000Z), nothing
 * else Date.parse would take ("1", "x 2020", leap seconds, years past 9999): such text in
 * a SQL parameter would fail in the database, not here.
 */
export function isInstant(value: unknown): value is string {
  return typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)
    && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString() === value;
}

/** An id inside a cursor: the shape of the ids this mesh makes. */
export function isCursorId(value: unknown): value is string {
  return typeof value === 'string' && isId(value);
}

/**
 * A time from a request as a Date: text Ajv's date-time takes but Date cannot hold (a leap
 * second, 23:59:60) or a Timestamp out of Date's range is refused naming the field, instead
 * of failing later where no field is known.
 */
export function requestTime(field: string, value: string | Date | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1970 || at.getUTCFullYear() > 9999) {
    throw invalid(field, 'must be a UTC time from 1970 to 9999 like 2026-12-02T08:00:00Z (leap seconds, :60, are not accepted)');
  }
  return at;
}
