import type { Knex } from '../../../lib/db';
import { type Gpu, GpuStatus } from '../../../lib/gen/aitbc/marketplace/v1/registry';

/** What booking knows of a GPU (booking.gpus, kept from gpu.* events). */
export interface GpuFacts {
  gpu_id: string;
  owner_id: string | null;
  miner_id: string | null;
  model: string | null;
  model_key: string | null;
  price_micro: number | null;
  online: boolean;
  status_changed_at: Date | null;
  unregistered_at: Date | null;
  /** The bounds of an open offer (null: none). */
  offer_min_hours: number | null;
  offer_max_hours: number | null;
}

/** The facts of a GPU with everything a booking needs (a snapshot row seen only through a status change has no model yet). */
export type KnownGpu = GpuFacts & { owner_id: string; miner_id: string; model: string; model_key: string; price_micro: number };

export const isComplete = (g: GpuFacts | undefined): g is KnownGpu => !!g && g.model !== null && g.price_micro !== null;

/** The SQL of booking's GPU snapshot. */
export const gpuSnapshotStore = {
  async get(db: Knex, gpuId: string): Promise<GpuFacts | undefined> {
    const row = await db<GpuFacts>('gpus').where({ gpu_id: gpuId }).first();
    return row && { ...row, price_micro: row.price_micro === null ? null : Number(row.price_micro) };
  },

  /**
   * A GPU's specs and price (registered or updated), its liveness too unless a later status
   * change is recorded. `filled`: from the registry on a first booking, never over facts
   * events brought.
   */
  async put(db: Knex, gpu: Omit<GpuFacts, 'status_changed_at' | 'unregistered_at'>, at: Date, filled = false): Promise<void> {
    await db.raw(
      `INSERT INTO gpus (gpu_id, owner_id, miner_id, model, model_key, price_micro, online, status_changed_at, offer_min_hours, offer_max_hours)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (gpu_id) DO UPDATE SET owner_id = excluded.owner_id, miner_id = excluded.miner_id, model = excluded.model,
         model_key = excluded.model_key, price_micro = excluded.price_micro,
         offer_min_hours = excluded.offer_min_hours, offer_max_hours = excluded.offer_max_hours,
         online = CASE WHEN gpus.status_changed_at > excluded.status_changed_at THEN gpus.online ELSE excluded.online END,
         status_changed_at = greatest(gpus.status_changed_at, excluded.status_changed_at)
       ${filled ? 'WHERE gpus.model IS NULL' : ''}`,
      [gpu.gpu_id, gpu.owner_id, gpu.miner_id, gpu.model, gpu.model_key, gpu.price_micro, gpu.online, at, gpu.offer_min_hours, gpu.offer_max_hours],
    );
  },

  /** Records a liveness change as of `at`, unless a later one is already recorded. */
  async setOnline(db: Knex, gpuId: string, online: boolean, at: Date): Promise<void> {
    await db.raw(
      `INSERT INTO gpus (gpu_id, online, status_changed_at) VALUES (?, ?, ?)
       ON CONFLICT (gpu_id) DO UPDATE SET online = excluded.online, status_changed_at = excluded.status_changed_at
       WHERE gpus.status_changed_at IS NULL OR gpus.status_changed_at <= excluded.status_changed_at`,
      [gpuId, online, at],
    );
  },

  async unregister(db: Knex, gpuId: string, at: Date): Promise<void> {
    await db.raw(
      `INSERT INTO gpus (gpu_id, online, status_changed_at, unregistered_at) VALUES (?, false, ?, ?)
       ON CONFLICT (gpu_id) DO UPDATE SET online = false, unregistered_at = excluded.unregistered_at`,
      [gpuId, at, at],
    );
  },
};

export type GpuSnapshotStore = typeof gpuSnapshotStore;

/**
 * What booking takes from a Gpu message: its price is its open offer's (else its listing's),
 * and the offer's hours bound its bookings.
 */
export function factsOf(gpu: Gpu, modelKey: string): Omit<GpuFacts, 'status_changed_at' | 'unregistered_at'> {
  const offer = gpu.offer && gpu.offer.status !== 'closed' ? gpu.offer : undefined;
  return {
    gpu_id: gpu.id, owner_id: gpu.ownerId, miner_id: gpu.minerId, model: gpu.model, model_key: modelKey,
    price_micro: offer?.pricePerHourMicro ?? gpu.pricePerHourMicro, online: gpu.status !== GpuStatus.GPU_STATUS_OFFLINE,
    offer_min_hours: offer?.minHours ?? null, offer_max_hours: offer?.maxHours ?? null,
  };
}
