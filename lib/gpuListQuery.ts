import { invalid } from './errors';
import { GPU_LIMITS as L } from './gpuLimits';
import { GpuSort, GpuStatus, type ListGpusRequest } from './gen/aitbc/marketplace/v1/registry';
import { identifyModel, modelKey } from './modelCatalogue';
import { requireSafeText } from './text';
import { decodeCursor as decodeTagged, encodeCursor as encodeTagged, isInstant } from './paging';

/** Columns a list can be ordered by; each order ends with `id` so keyset pages are total. */
export type SortColumn = 'created_at' | 'price_micro' | 'average_rating' | 'memory_gb';

export interface SortSpec {
  key: string;
  column: SortColumn;
  descending: boolean;
}

const SORTS: Record<GpuSort, SortSpec> = {
  [GpuSort.GPU_SORT_UNSPECIFIED]: { key: 'newest', column: 'created_at', descending: true },
  [GpuSort.GPU_SORT_NEWEST]: { key: 'newest', column: 'created_at', descending: true },
  [GpuSort.GPU_SORT_PRICE_ASC]: { key: 'price', column: 'price_micro', descending: false },
  [GpuSort.GPU_SORT_PRICE_DESC]: { key: '-price', column: 'price_micro', descending: true },
  [GpuSort.GPU_SORT_RATING_ASC]: { key: 'rating', column: 'average_rating', descending: false },
  [GpuSort.GPU_SORT_RATING_DESC]: { key: '-rating', column: 'average_rating', descending: true },
  [GpuSort.GPU_SORT_MEMORY_ASC]: { key: 'memory', column: 'memory_gb', descending: false },
  [GpuSort.GPU_SORT_MEMORY_DESC]: { key: '-memory', column: 'memory_gb', descending: true },
  [GpuSort.UNRECOGNIZED]: { key: 'newest', column: 'created_at', descending: true },
};

/** The position after the last row of a page: its sort value and id. */
export interface Cursor {
  sort: string;
  value: string | number;
  id: string;
}

/** A validated list request, ready for the store. */
export interface ListPlan {
  status?: 'available' | 'booked' | 'offline';
  /**
   * ILIKE pattern over the model name, LIKE pattern over its compact key, and the model
   * catalogue's key when the filter names a known model.
   */
  model?: { namePattern: string; keyPattern?: string; catalogKey?: string };
  memoryMin?: number;
  priceMin?: number;
  priceMax?: number;
  region?: string;
  minerId?: string;
  ownerId?: string;
  minRating?: number;
  sort: SortSpec;
  limit: number;
  after?: Cursor;
}

const STATUS: Partial<Record<GpuStatus, ListPlan['status']>> = {
  [GpuStatus.GPU_STATUS_AVAILABLE]: 'available',
  [GpuStatus.GPU_STATUS_BOOKED]: 'booked',
  [GpuStatus.GPU_STATUS_OFFLINE]: 'offline',
};

/** Validates filters, sort, limit and cursor; every problem names its field. */
export function planList(req: ListGpusRequest): ListPlan {
  const sort = SORTS[req.sort];
  if (!sort || req.sort === GpuSort.UNRECOGNIZED) throw invalid('sort', 'is not a sort this list knows');
  if (req.status !== GpuStatus.GPU_STATUS_UNSPECIFIED && !STATUS[req.status]) throw invalid('status', 'must be available, booked or offline');
  const limit = req.limit === 0 ? L.listLimitDefault : req.limit;
  if (limit < 1 || limit > L.listLimitMax) throw invalid('limit', `must be from 1 to ${L.listLimitMax}`);
  let status = STATUS[req.status];
  if (req.available !== undefined) {
    const wanted = req.available ? 'available' : undefined;
    if (status && req.available && status !== 'available') throw invalid('available', `contradicts status=${status}`);
    status = wanted ?? status;
  }
  if (req.priceMinMicro !== undefined && req.priceMaxMicro !== undefined && req.priceMinMicro > req.priceMaxMicro) {
    throw invalid('price_min', 'must not exceed price_max');
  }
  if (req.minRating !== undefined && !(req.minRating >= 0 && req.minRating <= 5)) throw invalid('min_rating', 'must be from 0 to 5');
  const model = requireSafeText('model', req.model.trim());
  if (model.length > L.modelMaxLength) throw invalid('model', `must be at most ${L.modelMaxLength} characters`);
  for (const [field, value] of [['region', req.region], ['miner_id', req.minerId], ['owner_id', req.ownerId]] as const) {
    requireSafeText(field, value);
  }
  return {
    status,
    model: model ? modelPatterns(model) : undefined,
    memoryMin: req.memoryMin,
    priceMin: req.priceMinMicro,
    priceMax: req.priceMaxMicro,
    region: req.region.trim() || undefined,
    minerId: req.minerId.trim() || undefined,
    ownerId: req.ownerId.trim() || undefined,
    minRating: req.minRating,
    sort,
    limit,
    after: req.cursor ? decodeCursor(req.cursor, sort) : undefined,
  };
}

/**
 * Turns a user's model filter into LIKE patterns: a case-insensitive substring match where
 * `*` matches any run and `?` one character. LIKE's own metacharacters are escaped.
 * The key pattern applies the same wildcards to the normalised model key, so "rtx4090"
 * finds "RTX 4090".
 */
export function modelPatterns(filter: string): { namePattern: string; keyPattern?: string; catalogKey?: string } {
  const toLike = (text: string) =>
    text.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%').replace(/\?/g, '_');
  const parts = filter.split(/([*?])/);
  const key = parts.map((p) => (p === '*' || p === '?' ? p : modelKey(p))).join('');
  // A filter with no letters or digits ("%", "-") has an empty key, which would match all.
  const keyPattern = /[a-z0-9]/.test(key) ? `%${toLike(key)}%` : undefined;
  // A whole model name ("NVIDIA GeForce RTX 4090", "4090") also finds every spelling of it.
  const known = /[*?]/.test(filter) ? undefined : identifyModel(filter);
  return { namePattern: `%${toLike(filter)}%`, keyPattern, catalogKey: known?.known ? known.key : undefined };
}

/** Encodes the position after `row` as an opaque, URL-safe cursor (kind `gpus:<sort>`). */
export function encodeCursor(sort: SortSpec, value: string | number, id: string): string {
  return encodeTagged(`gpus:${sort.key}`, [value], id);
}

export function decodeCursor(text: string, sort: SortSpec): Cursor {
  const { values, id } = decodeTagged(`gpus:${sort.key}`, text, [CURSOR_VALUE[sort.column]], {
    otherKind: (kind) => (kind.startsWith('gpus:') ? `belongs to sort=${kind.slice(5)}; repeat that sort or start again without a cursor` : undefined),
  });
  return { sort: sort.key, value: values[0], id };
}

/** What a cursor's value may be for each sort column: what the column itself can hold. */
const CURSOR_VALUE: Record<SortColumn, (value: unknown) => boolean> = {
  created_at: isInstant,
  price_micro: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  memory_gb: (v) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= L.memoryGbMax,
  average_rating: (v) => typeof v === 'number' && v >= 0 && v <= 5,
};
