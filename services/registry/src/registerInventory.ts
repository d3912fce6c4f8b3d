import type { Caller } from '../../../lib/caller';
import { type Knex, transactionRetryingDeadlocks } from '../../../lib/db';
import { invalid, notFound } from '../../../lib/errors';
import type { Outbox } from '../../../lib/events/outbox';
import { GPU_LIMITS } from '../../../lib/gpuLimits';
import type { GpuSpec } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { newId } from '../../../lib/ids';
import { cleanSpec } from './domain/gpuSpec';
import { upsertEvents } from './events';
import { minerStore } from './minerStore';
import type { Liveness } from './liveness';
import type { GpuRow, RegistryStore } from './store';

/**
 * Creates or updates every GPU a miner reports (REST miner register and the miner stream's
 * hello alike), all or nothing: a GPU is known by its hardware UUID, else by its position.
 * `field` names the inventory in errors (`capabilities.gpu`, `hello.gpus`).
 */
export async function registerInventory(
  deps: { db: Knex; store: RegistryStore; outbox: Outbox; defaultPriceMicro: number; liveness: Pick<Liveness, 'registered'> },
  caller: Caller,
  minerId: string,
  gpus: GpuSpec[],
  field: string,
  /** Only a miner that has GPUs now (updating capabilities): NOT_FOUND otherwise, nothing created. */
  existingOnly = false,
): Promise<GpuRow[]> {
  if (gpus.length === 0) throw invalid(field, 'must describe at least one GPU');
  if (gpus.length > GPU_LIMITS.gpusPerMinerMax) throw invalid(field, `must describe at most ${GPU_LIMITS.gpusPerMinerMax} GPUs`);
  const specs = gpus.map((g, i) => cleanSpec(g, gpus.length > 1 ? `gpus[${i}].` : ''));
  // One GPU described twice would be two descriptions of one row, the last silently winning.
  const seen = new Set<string>();
  specs.forEach((spec, i) => {
    const key = spec.uuid?.toLowerCase();
    if (key && seen.has(key)) throw invalid(`${field}[${i}].uuid`, `names a GPU listed before in the same request (${spec.uuid})`);
    if (key) seen.add(key);
  });
  const rows = await transactionRetryingDeadlocks(deps.db, async (trx) => {
    await minerStore.lockMiner(trx, caller.accountId, minerId);
    if (existingOnly && !(await minerStore.lockGpus(trx, caller.accountId, minerId)).length) throw notFound(`miner ${minerId}`);
    const out: GpuRow[] = [];
    const now = new Date();
    // In model order (a GPU keeps its position as its key): the model counts each write
    // moves are then taken in one order, and two inventories of the same models never
    // wait on each other in a circle.
    const order = [...specs.entries()].sort(([, a], [, b]) => (a.model < b.model ? -1 : a.model > b.model ? 1 : a.memoryGb - b.memoryGb));
    for (const [i, spec] of order) {
      const upserted = await deps.store.upsertGpu(trx, {
        id: newId('gpu'), ownerId: caller.accountId, minerId, hwKey: spec.uuid ?? `slot:${i}`,
        spec, defaultPriceMicro: deps.defaultPriceMicro,
      });
      await deps.outbox.enqueue(trx, upsertEvents(upserted, now));
      out[i] = upserted.row; // answered in the order given
    }
    return out;
  });
  // A registration counts as a heartbeat (the upsert wrote one).
  deps.liveness.registered(rows.map((r) => r.id));
  return rows;
}
