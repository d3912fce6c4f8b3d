/** How finely beats are grouped in time: a GPU goes offline at most this much past its TTL. */
const SLOT_MS = 250;

/**
 * The GPUs this replica has seen beat, grouped by when they last did, so the offline sweeper
 * looks only at those whose beat has grown old instead of scanning every GPU (at 1,000,000
 * GPUs that scan takes ~165 ms, every half second). Memory only: what it forgets (a restart,
 * a beat that reached another replica) the sweeper's rare full scan still finds.
 */
export interface HeartbeatDeadlines {
  /** This GPU beat at `ms` (a later beat moves it; an earlier one is ignored). */
  note(gpuId: string, ms: number): void;
  /** Removes and returns every GPU whose last beat here was before `beforeMs`. */
  takeBefore(beforeMs: number): string[];
  readonly size: number;
}

export function createHeartbeatDeadlines(): HeartbeatDeadlines {
  const slots = new Map<number, Set<string>>();
  const slotOf = new Map<string, number>();
  return {
    note(gpuId, ms) {
      const slot = Math.floor(ms / SLOT_MS);
      const old = slotOf.get(gpuId);
      if (old !== undefined && old >= slot) return;
      if (old !== undefined) {
        const set = slots.get(old)!;
        set.delete(gpuId);
        if (!set.size) slots.delete(old);
      }
      let set = slots.get(slot);
      if (!set) slots.set(slot, (set = new Set()));
      set.add(gpuId);
      slotOf.set(gpuId, slot);
    },
    takeBefore(beforeMs) {
      // A slot is due once all of it is before the limit; there are about TTL / SLOT_MS slots.
      const limit = Math.floor(beforeMs / SLOT_MS);
      const due: string[] = [];
      for (const [slot, set] of slots) {
        if (slot >= limit) continue;
        for (const id of set) {
          due.push(id);
          slotOf.delete(id);
        }
        slots.delete(slot);
      }
      return due;
    },
    get size() {
      return slotOf.size;
    },
  };
}
