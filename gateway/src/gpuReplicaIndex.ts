import type { GpuChange } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { encodeCursor, type ListPlan, type SortColumn } from '../../lib/gpuListQuery';
import { filterOf, isAscii, type ModelName, type ReplicaFilter } from './gpuReplicaFilter';
import { OrderedGpus, position, SORT_KEY } from './gpuReplicaOrder';

/** One listed GPU in the replica: what lists filter and sort on, and its JSON as last built. */
export interface ReplicaGpu {
  id: string;
  createdMs: number;
  price: number;
  rating: number;
  memory: number;
  model: string;
  region: string;
  minerId: string;
  ownerId: string;
  online: boolean;
  bookingStarts: Date | null;
  bookingExpires: Date | null;
  /** The name and its two keys, what a model filter looks at (one ModelName per triple). */
  nameTriple: string;
  /** Only ASCII in the region: compared here exactly as PostgreSQL compares it. */
  asciiRegion: boolean;
  /** The GPU's JSON (UTF-8, outside the JavaScript heap), and whether it was built for a booked GPU (the status moves with time). */
  json: Buffer;
  jsonBooked: boolean;
  /** Set once a newer entry (or a removal) replaced it: the orders skip it until they are rebuilt. */
  dead: boolean;
}

/** A page that would take more steps than this (GPUs read times the orders merged) is left to the registry. */
export const SCAN_MAX = 20_000;
/** A model filter matching more names than this walks the whole list instead of merging the names' walks (the registry's MODEL_NAMES_MAX). */
const MERGE_MAX = 1000;

/**
 * One copy of each name, region, miner and owner for all the GPUs that share it (a decoded
 * message brings its own copies): at a million GPUs that is most of the replica's memory.
 */
export class Interned {
  private seen = new Map<string, string>();
  of(text: string): string {
    const known = this.seen.get(text);
    if (known !== undefined) return known;
    this.seen.set(text, text);
    return text;
  }
}

/** The replica's entry for a change that is not a deletion (json built by the caller). */
export function replicaGpu(change: GpuChange, json: Buffer, jsonBooked: boolean, intern: Interned = new Interned()): ReplicaGpu {
  const gpu = change.gpu!;
  return {
    id: gpu.id, createdMs: gpu.createdAt?.getTime() ?? 0, price: gpu.pricePerHourMicro, rating: gpu.averageRating, memory: gpu.memoryGb,
    model: intern.of(gpu.model), region: intern.of(gpu.region), minerId: intern.of(gpu.minerId), ownerId: intern.of(gpu.ownerId),
    online: change.online, bookingStarts: change.bookingStarts ?? null, bookingExpires: change.bookingExpires ?? null,
    nameTriple: intern.of(`${gpu.model}\u0000${change.nameKey}\u0000${gpu.modelKey}`), asciiRegion: isAscii(gpu.region), json, jsonBooked, dead: false,
  };
}

/**
 * The listed GPUs in memory: all of them in the order of each sort, and each model name's
 * (with its keys) in the same orders, as the registry's sort indexes and model-led indexes.
 */
export class ReplicaIndex {
  readonly byId = new Map<string, ReplicaGpu>();
  private all = new OrderedGpus();
  /** Names whose orders changed since the last settle. */
  private touched = new Set<ModelName>();
  private names = new Map<string, ModelName>();
  /** The listed GPUs' JSON, in bytes (most of the replica's memory). */
  jsonBytes = 0;
  /** Puts made since the last settle: the orders may not hold every GPU in its place yet. */
  private unsettled = false;

  get size(): number {
    return this.byId.size;
  }

  /** Puts (or removes, with undefined) one GPU; `settle` puts moved ones in order. */
  put(id: string, gpu: ReplicaGpu | undefined): void {
    const old = this.byId.get(id);
    if (old) old.dead = true;
    this.jsonBytes += (gpu?.json.length ?? 0) - (old?.json.length ?? 0);
    this.unsettled = true;
    if (gpu) this.byId.set(id, gpu);
    else this.byId.delete(id);
    this.all.put(id, old, gpu);
    if (old && gpu && old.nameTriple === gpu.nameTriple) {
      const name = this.names.get(old.nameTriple)!;
      count(name, old.memory, -1);
      count(name, gpu.memory, 1);
      name.gpus.put(id, old, gpu);
      this.touched.add(name);
      return;
    }
    if (old) {
      const name = this.names.get(old.nameTriple)!;
      count(name, old.memory, -1);
      name.gpus.put(id, old, undefined);
      this.touched.add(name);
    }
    if (gpu) {
      let name = this.names.get(gpu.nameTriple);
      if (!name) {
        const [model, nameKey, catalogKey] = gpu.nameTriple.split('\u0000');
        this.names.set(gpu.nameTriple, (name = { model, nameKey, catalogKey, sizes: new Map(), gpus: new OrderedGpus() }));
      }
      count(name, gpu.memory, 1);
      name.gpus.put(id, undefined, gpu);
      this.touched.add(name);
    }
  }

  settle(): void {
    this.unsettled = false;
    this.all.settle();
    for (const name of this.touched) {
      name.gpus.settle();
      if (!name.sizes.size) this.names.delete(`${name.model}\u0000${name.nameKey}\u0000${name.catalogKey}`);
    }
    this.touched.clear();
  }

  /**
   * A page of the list exactly as the registry would answer it at `now`, or undefined when
   * this replica cannot be sure of the answer (names or regions outside ASCII under a
   * case-insensitive filter, a cursor of a shape the registry never makes) or would read
   * more than SCAN_MAX steps for it: the registry then answers.
   *
   * The page walks the sort's order from the cursor (and from where the sort column's own
   * filter begins) until it fills, testing every filter. Under a model filter it walks the
   * matching names' orders side by side, as the registry merges its model-led index walks.
   */
  page(plan: ListPlan, now: Date): { gpus: ReplicaGpu[]; nextCursor: string } | undefined {
    // An owner's or a miner's GPUs are few among many: the registry walks an index led by the owner.
    if (this.unsettled || plan.ownerId || plan.minerId) return undefined;
    const filter = filterOf(plan, now, this.names);
    if (!filter) return undefined;
    if (filter === 'none') return { gpus: [], nextCursor: '' };
    const { column } = plan.sort;
    let after: { value: number; id: string } | undefined;
    if (plan.after) {
      const value = cursorNumber(column, plan.after.value);
      if (value === undefined) return undefined;
      after = { value, id: plan.after.id };
    }
    const sets = filter.names && filter.names.length <= MERGE_MAX ? filter.names.map((n) => n.gpus) : [this.all];
    const found = walk(sets.flatMap((o) => (o.recent[column].length ? [o.lists[column], o.recent[column]] : [o.lists[column]])), plan, filter, after);
    if (!found) return undefined;
    const gpus = found.slice(0, plan.limit);
    const last = gpus[gpus.length - 1];
    const nextCursor = found.length > plan.limit ? encodeCursor(plan.sort, cursorValue(column, last), last.id) : '';
    return { gpus, nextCursor };
  }
}

function count(name: ModelName, memory: number, delta: 1 | -1): void {
  const n = (name.sizes.get(memory) ?? 0) + delta;
  if (n > 0) name.sizes.set(memory, n);
  else name.sizes.delete(memory);
}

/** The range of the sort column a plan's own filter on that column allows ([low, high] values). */
function columnRange(plan: ListPlan): [number, number] {
  switch (plan.sort.column) {
    case 'price_micro': return [plan.priceMin ?? -Infinity, plan.priceMax ?? Infinity];
    case 'memory_gb': return [plan.memoryMin ?? -Infinity, Infinity];
    case 'average_rating': return [plan.minRating ?? -Infinity, Infinity];
    default: return [-Infinity, Infinity];
  }
}

/**
 * Up to limit + 1 matching GPUs in page order, merged from `sources` (each in the sort's
 * order), from past the cursor; undefined past SCAN_MAX steps or at a GPU the test cannot decide.
 */
function walk(sources: ReplicaGpu[][], plan: ListPlan, filter: ReplicaFilter, after?: { value: number; id: string }): ReplicaGpu[] | undefined {
  const { column, descending } = plan.sort;
  const key = SORT_KEY[column];
  const [low, high] = columnRange(plan);
  // Each source's next index and its end (exclusive), in walking direction.
  const at: number[] = [];
  const end: number[] = [];
  for (const list of sources) {
    let from = position(list, key, low, '');
    let to = position(list, key, high, '\uffff');
    if (after) {
      let p = position(list, key, after.value, after.id);
      if (descending) to = Math.min(to, p);
      else {
        // Past the cursor's own place (a GPU's dead entries may share it).
        while (p < list.length && key(list[p]) === after.value && list[p].id === after.id) p++;
        from = Math.max(from, p);
      }
    }
    // A cursor past the column's own range leaves nothing to walk (from ≥ to): start at the end.
    at.push(descending ? Math.max(to, from) - 1 : Math.min(from, to));
    end.push(descending ? from - 1 : to);
  }
  const step = descending ? -1 : 1;
  const found: ReplicaGpu[] = [];
  // Work is GPUs read times the walks merged: the same bound however many names a filter matches.
  for (let work = 0; found.length <= plan.limit; work += sources.length) {
    if (work >= SCAN_MAX) return undefined;
    // The next GPU in page order among the sources' heads.
    let best = -1;
    for (let s = 0; s < sources.length; s++) {
      if (at[s] === end[s]) continue;
      if (best < 0) best = s;
      else {
        const a = sources[s][at[s]];
        const b = sources[best][at[best]];
        const d = key(a) - key(b) || (a.id < b.id ? -1 : 1);
        if (descending ? d > 0 : d < 0) best = s;
      }
    }
    if (best < 0) break;
    const gpu = sources[best][at[best]];
    at[best] += step;
    if (gpu.dead) continue;
    const verdict = filter.test(gpu);
    if (verdict === undefined) return undefined;
    if (verdict) found.push(gpu);
  }
  return found;
}

/** The cursor value the registry would write for the last GPU of a page. */
function cursorValue(column: SortColumn, gpu: ReplicaGpu): string | number {
  return column === 'created_at' ? new Date(gpu.createdMs).toISOString() : SORT_KEY[column](gpu);
}

/** A cursor's value as a sort key, when it is in the form the registry writes. */
function cursorNumber(column: SortColumn, value: string | number): number | undefined {
  if (column !== 'created_at') return typeof value === 'number' ? value : undefined;
  const ms = Date.parse(String(value));
  return Number.isFinite(ms) && new Date(ms).toISOString() === value ? ms : undefined;
}
