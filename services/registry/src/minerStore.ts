import type { Knex } from '../../../lib/db';
import type { GpuRow } from './store';

/** SQL over one owner's miner: its GPUs as a whole (a miner is its owner's name for a rig). */
export const minerStore = {
  /** The miner's registered GPUs, and how many it had that were unregistered since. */
  async miner(db: Knex, ownerId: string, minerId: string): Promise<{ gpus: GpuRow[]; unregistered: number }> {
    const rows: (GpuRow & { gone: boolean })[] = await db('gpus').where({ owner_id: ownerId, miner_id: minerId })
      .select('*', db.raw('deleted_at IS NOT NULL AS gone')).orderBy([{ column: 'created_at' }, { column: 'id' }]);
    return { gpus: rows.filter((r) => !r.gone), unregistered: rows.filter((r) => r.gone).length };
  },

  /**
   * Serialises whole-miner changes (register, update, deregister) of one owner's miner until
   * the transaction ends: a deregister and an update never interleave, so an update either
   * sees the miner gone (404) or completes before the deregister removes everything.
   */
  async lockMiner(trx: Knex, ownerId: string, minerId: string): Promise<void> {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 7))', [`miner/${ownerId}/${minerId}`]);
  },

  /** Locks the miner's registered GPUs (until the transaction ends) and returns them. */
  async lockGpus(trx: Knex, ownerId: string, minerId: string): Promise<GpuRow[]> {
    return trx<GpuRow>('gpus').where({ owner_id: ownerId, miner_id: minerId }).whereNull('deleted_at').orderBy('id').forUpdate();
  },
};

export type MinerStore = typeof minerStore;
