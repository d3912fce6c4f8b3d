import { invalid } from './errors';
import { isId } from './ids';

/**
 * Keyset paging, one way for every list: a page is `limit` rows of a query that asked for
 * one more (the extra row says there is a next page), and the next page starts after the
 * last row's sort values and id. Cursors are opaque URL-safe text, base64url of
 * `[kind, ...values, id]`: the kind says which list (and order) made it, so a cursor of
 * another list or order is refused, and every value is checked before it reaches SQL.
 */
export type CursorValue = string | number;

const NOT_A_CURSOR = 'is not a cursor from a previous page of this list; start again without it';

export function encodeCursor(kind: string, values: CursorValue[], id: string): string {
  return Buffer.from(JSON.stringify([kind, ...values, id])).toString('base64url');
}

/**
 * The values and id of a cursor made by `encodeCursor(kind, …)`, each value checked by its
 * `shape`; INVALID_ARGUMENT naming `cursor` otherwise. `otherKind` words the refusal of a
 * cursor of another order of the same list.
 */
export function decodeCursor(
  kind: string, text: string, shapes: ((value: unknown) => boolean)[],
  options: { otherKind?: (kind: string) => string | undefined; isRowId?: (id: string) => boolean } = {},
): { values: CursorValue[]; id: string } {
  let parsed: unknown;
  try {
    if (text.length > 300 || !/^[A-Za-z0-9_-]+$/.test(text)) throw new Error('not base64url');
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid('cursor', NOT_A_CURSOR);
  }
  if (!Array.isArray(parsed) || parsed.length !== shapes.length + 2) throw invalid('cursor', NOT_A_CURSOR);
  const [tag, ...rest] = parsed as unknown[];
  const id = rest.pop();
  if (tag !== kind) {
    const other = typeof tag === 'string' ? options.otherKind?.(tag) : undefined;
    throw invalid('cursor', other ?? NOT_A_CURSOR);
  }
  if (typeof id !== 'string' || !(options.isRowId ?? isId)(id) || !rest.every((v, i) => shapes[i](v))) throw invalid('cursor', NOT_A_CURSOR);
  return { values: rest as CursorValue[], id };
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

/** A (time, id) position of a list ordered by time, from its cursor; undefined without one. */
export function readCursor(kind: string, text: string, isRowId?: (id: string) => boolean): { at: string; id: string } | undefined {
  if (!text) return undefined;
  const { values, id } = decodeCursor(kind, text, [isInstant], { isRowId });
  return { at: values[0] as string, id };
}

/**
 * A page of `rows` (fetched with `limit + 1`): the first `limit`, and the cursor after the
 * last of them when there were more ('' otherwise). `position` gives a row's sort values and id.
 */
export function page<T>(rows: T[], limit: number, kind: string, position: (row: T) => [CursorValue | Date, string]): { items: T[]; nextCursor: string } {
  const items = rows.slice(0, limit);
  if (rows.length <= limit) return { items, nextCursor: '' };
  const [value, id] = position(items[items.length - 1]);
  return { items, nextCursor: encodeCursor(kind, [value instanceof Date ? value.toISOString() : value], id) };
}
