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
 * A set of GPUs in one array per sort column, each in (value, id) order. A GPU whose sort
 * values did not change takes its predecessor's places at once (heartbeats, status); one that
 * moved (or came, or went) waits for `settle`, which puts the moved ones in place one by one
 * when few and with one merge per array when many.
 */
export class OrderedGpus {
  readonly lists: Record<SortColumn, ReplicaGpu[]> = { created_at: [], price_micro: [], average_rating: [], memory_gb: [] };
  private moved = new Map<string, { held?: ReplicaGpu; current?: ReplicaGpu }>();

  /** `held`: the entry this set holds for the id (if any); `gpu`: the one it is to hold. */
  put(id: string, held: ReplicaGpu | undefined, gpu: ReplicaGpu | undefined): void {
    const pending = this.moved.get(id);
    if (pending) {
      pending.current = gpu;
      return;
    }
    if (held && gpu && COLUMNS.every((c) => SORT_KEY[c](held) === SORT_KEY[c](gpu))) {
      for (const column of COLUMNS) {
        const list = this.lists[column];
        list[position(list, SORT_KEY[column], SORT_KEY[column](held), id)] = gpu;
      }
      return;
    }
    if (held || gpu) this.moved.set(id, { held, current: gpu });
  }

  settle(): void {
    if (!this.moved.size) return;
    for (const column of COLUMNS) {
      const key = SORT_KEY[column];
      const list = this.lists[column];
      if (this.moved.size <= 32) {
        for (const [id, { held, current }] of this.moved) {
          if (held) list.splice(position(list, key, key(held), id), 1);
          if (current) list.splice(position(list, key, key(current), id), 0, current);
        }
      } else {
        const added = [...this.moved.values()].flatMap((m) => m.current ?? []).sort(byKey(column));
        this.lists[column] = merge(list.filter((g) => !this.moved.has(g.id)), added, byKey(column));
      }
    }
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
