import type { SortColumn } from '../../lib/gpuListQuery';
import type { ReplicaGpu } from './gpuReplicaIndex';

export const SORT_KEY: Record<SortColumn, (g: ReplicaGpu) => number> = {
  created_at: (g) => g.createdMs, price_micro: (g) => g.price, average_rating: (g) => g.rating, memory_gb: (g) => g.memory,
};
const COLUMNS = Object.keys(SORT_KEY) as SortColumn[];

/** (value, id) order, as the registry's indexes order GPUs (ids are ASCII: JavaScript's order is the database's). */
export const byKey = (column: SortColumn) => (a: ReplicaGpu, b: ReplicaGpu) =>
  SORT_KEY[column](a) - SORT_KEY[column](b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * A set of GPUs in the order of each sort column, (value, id), kept as a large sorted array
 * and a small one of recent arrivals (the walks merge the two). A GPU whose sort values did
 * not change takes its predecessor's places at once (heartbeats, status). One that moved,
 * came or went waits for `settle`, which slides it into the small array; its old entry stays
 * where it was, marked dead, until the small array
 * and the dead outgrow a share of the set and both arrays are merged again. So a move costs
 * about a thousand slots, not the whole set (at 1M GPUs a splice of the large array took 1.5 ms).
 */
export class OrderedGpus {
  readonly lists: Record<SortColumn, ReplicaGpu[]> = { created_at: [], price_micro: [], average_rating: [], memory_gb: [] };
  readonly recent: Record<SortColumn, ReplicaGpu[]> = { created_at: [], price_micro: [], average_rating: [], memory_gb: [] };
  private moved = new Map<string, ReplicaGpu | undefined>();
  private dead = 0;

  /** `held`: the entry this set holds for the id (if any); `gpu`: the one it is to hold. */
  put(id: string, held: ReplicaGpu | undefined, gpu: ReplicaGpu | undefined): void {
    if (this.moved.has(id)) {
      this.moved.set(id, gpu);
      return;
    }
    if (held && gpu && COLUMNS.every((c) => SORT_KEY[c](held) === SORT_KEY[c](gpu))) {
      for (const column of COLUMNS) {
        for (const list of [this.lists[column], this.recent[column]]) {
          const at = position(list, SORT_KEY[column], SORT_KEY[column](held), id);
          // Dead entries of the same GPU may share its place: replace the one held.
          for (let i = at; i < list.length && list[i].id === id; i++) if (list[i] === held) list[i] = gpu;
        }
      }
      return;
    }
    if (held) this.dead++;
    if (held || gpu) this.moved.set(id, gpu);
  }

  settle(): void {
    if (!this.moved.size) return;
    const size = this.lists.created_at.length + this.recent.created_at.length;
    const arrivals = [...this.moved.values()].filter((g): g is ReplicaGpu => g !== undefined);
    const rebuild = this.recent.created_at.length + arrivals.length + this.dead > Math.max(1024, size / 16);
    for (const column of COLUMNS) {
      const order = byKey(column);
      if (rebuild) {
        const kept = merge(this.lists[column], this.recent[column], order).filter((g) => !g.dead);
        this.lists[column] = merge(kept, [...arrivals].sort(order), order);
        this.recent[column] = [];
      } else {
        const list = this.recent[column];
        for (const g of arrivals) list.splice(position(list, SORT_KEY[column], SORT_KEY[column](g), g.id), 0, g);
      }
    }
    if (rebuild) this.dead = 0;
    this.moved.clear();
  }
}

/** The first index whose (key, id) is not before (value, id). */
export function position(list: ReplicaGpu[], key: (g: ReplicaGpu) => number, value: number, id: string): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const k = key(list[mid]);
    if (k < value || (k === value && list[mid].id < id)) low = mid + 1;
    else high = mid;
  }
  return low;
}

function merge<T>(a: T[], b: T[], cmp: (x: T, y: T) => number): T[] {
  if (!b.length) return a;
  const out: T[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = cmp(a[i], b[j]) <= 0 ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}
