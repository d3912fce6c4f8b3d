import type { Knex } from '../../../lib/db';
import type { CleanSpec } from './domain/gpuSpec';
import { upsertGpu } from './upsertGpu';
import { listGpus } from './listGpus';
import type { ListPlan } from '../../../lib/gpuListQuery';

/** A row of registry.gpus as pg returns it. */
export interface GpuRow {
  id: string;
  owner_id: string;
  miner_id: string;
  hw_key: string;
  uuid: string | null;
  model: string;
  model_key: string;
  /** The model catalogue's canonical key (rtx-4090). */
  catalog_key: string;
  memory_gb: number;
  cuda_cores: number;
  compute_capability: string;
  cuda_version: string;
  region: string;
  price_micro: number;
  description: string;
  capabilities: string[];
  online: boolean;
  last_heartbeat_at: Date;
  current_booking_id: string | null;
  booking_starts: Date | null;
  booking_expires: Date | null;
  total_bookings: number;
  average_rating: string;
  total_reviews: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  offer_id: string | null;
  offer_price_micro: number | null;
  offer_min_hours: number | null;
  offer_max_hours: number | null;
  offer_models: string[];
  offer_status: 'open' | 'closed' | null;
  offer_created_at: Date | null;
  driver_version: string;
  utilization: number | null;
  temperature_c: number | null;
  memory_used_gb: number | null;
  power_w: number | null;
  telemetry_at: Date | null;
}

/** A GPU's telemetry as its miner reported it with a heartbeat. */
export interface Reading {
  /** null: not reported (nvidia-smi says "[N/A]"). */
  utilization: number | null;
  temperature_c: number | null;
  memory_used_gb: number | null;
  power_w: number | null;
}

export interface UpsertInput {
  id: string;
  ownerId: string;
  minerId: string;
  hwKey: string;
  spec: CleanSpec;
  /** Used when the spec has no price and the GPU is new. */
  defaultPriceMicro: number;
}

/** The registry's only SQL. Every method takes the knex handle or a transaction. */
export interface RegistryStore {
  /** `wasOnline` is the stored liveness before the call (undefined for a new GPU). */
  upsertGpu(db: Knex, input: UpsertInput): Promise<{ row: GpuRow; created: boolean; wasOnline?: boolean }>;
  getGpu(db: Knex, id: string): Promise<GpuRow | undefined>;
  listGpus(db: Knex, plan: ListPlan): Promise<GpuRow[]>;
  deleteGpu(db: Knex, id: string): Promise<GpuRow | undefined>;
  /** Takes a miner's GPUs offline at once (it says it is going away); returns them with their previous liveness. */
  markMinerOffline(db: Knex, ownerId: string, minerId: string): Promise<(GpuRow & { was_online: boolean })[]>;
  /**
   * Marks GPUs alive at the given times (one statement), with their telemetry where a reading
   * came (null: keep the last one); returns them with their previous liveness.
   */
  markAlive(db: Knex, ids: string[], times: Date[], readings?: (Reading | null)[]): Promise<(GpuRow & { was_online: boolean })[]>;
  /** The live GPUs of a miner (ids only). */
  minerGpuIds(db: Knex, ownerId: string, minerId: string): Promise<string[]>;
  /** Turns GPUs offline whose last heartbeat is older than the TTL (of `among` only, when given); returns them. */
  sweepOffline(db: Knex, ttlSeconds: number, among?: string[]): Promise<GpuRow[]>;
  /** Which of these GPUs are online with a heartbeat older than the TTL (no lock taken). */
  staleOnline(db: Knex, ttlSeconds: number, ids: string[]): Promise<string[]>;
}

const LIVE = 'deleted_at IS NULL';

export const registryStore: RegistryStore = {
  upsertGpu,

  async getGpu(db, id) {
    return db<GpuRow>('gpus').where({ id }).whereNull('deleted_at').first();
  },

  listGpus,

  async deleteGpu(db, id) {
    const rows = await db<GpuRow>('gpus')
      .where({ id })
      .whereNull('deleted_at')
      // Its offer closes with it.
      .update({ deleted_at: db.fn.now(), updated_at: db.fn.now(), offer_status: db.raw(`CASE WHEN offer_id IS NULL THEN NULL ELSE 'closed' END`) } as never)
      .returning('*');
    return rows[0] as GpuRow | undefined;
  },

  async markMinerOffline(db, ownerId, minerId) {
    // The CTE reads (and locks) the liveness before the update, so the caller can tell which
    // GPUs changed state and announce exactly those transitions.
    const { rows } = await db.raw(
      `WITH prev AS (
         SELECT id, online FROM gpus WHERE owner_id = ? AND miner_id = ? AND ${LIVE} ORDER BY id FOR UPDATE
       )
       UPDATE gpus AS g SET online = false, updated_at = CASE WHEN g.online THEN now() ELSE g.updated_at END
       FROM prev WHERE g.id = prev.id
       RETURNING g.*, prev.online AS was_online`,
      [ownerId, minerId],
    );
    return rows;
  },

  async markAlive(db, ids, times, readings) {
    const col = (key: keyof Reading) => ids.map((_, i) => readings?.[i]?.[key] ?? null);
    const has = ids.map((_, i) => Boolean(readings?.[i]));
    // A beat with a reading replaces the last reading whole (a field not reported is null);
    // one without keeps it. Rows are locked in id order, the order the booking projection's
    // batches take GPUs in: a flush and a batch wait for each other instead of deadlocking
    // (a join locks in whatever order its plan reads).
    const { rows } = await db.raw(
      `WITH v AS (SELECT unnest(?::text[]) AS id, unnest(?::timestamptz[]) AS at, unnest(?::boolean[]) AS has, unnest(?::real[]) AS util,
                         unnest(?::real[]) AS temp, unnest(?::real[]) AS mem, unnest(?::real[]) AS power),
       prev AS (SELECT g.id, g.online FROM gpus g JOIN v ON v.id = g.id WHERE g.${LIVE} ORDER BY g.id FOR UPDATE OF g)
       UPDATE gpus AS g SET online = true, last_heartbeat_at = GREATEST(g.last_heartbeat_at, v.at),
         updated_at = CASE WHEN prev.online THEN g.updated_at ELSE now() END,
         utilization = CASE WHEN v.has THEN v.util ELSE g.utilization END, temperature_c = CASE WHEN v.has THEN v.temp ELSE g.temperature_c END,
         memory_used_gb = CASE WHEN v.has THEN v.mem ELSE g.memory_used_gb END, power_w = CASE WHEN v.has THEN v.power ELSE g.power_w END,
         telemetry_at = CASE WHEN v.has THEN v.at ELSE g.telemetry_at END
       FROM v JOIN prev ON prev.id = v.id WHERE g.id = v.id
       RETURNING g.*, prev.online AS was_online`,
      // pg sends the nulls in an array as SQL NULL; knex's binding type has no nullable arrays.
      [ids, times, has, col('utilization'), col('temperature_c'), col('memory_used_gb'), col('power_w')] as never,
    );
    return rows;
  },

  async minerGpuIds(db, ownerId, minerId) {
    const rows: { id: string }[] = await db('gpus').where({ owner_id: ownerId, miner_id: minerId }).whereNull('deleted_at').select('id');
    return rows.map((r) => r.id);
  },

  async sweepOffline(db, ttlSeconds, among) {
    // Rows another sweeper (a replica) or a heartbeat flush holds are skipped, not waited
    // for: that one decides them, and two sweeps waiting on each other's rows deadlocked.
    // The re-check of `online` under the lock turns each GPU offline exactly once.
    const { rows } = await db.raw(
      `WITH due AS (
         SELECT id FROM gpus WHERE online AND ${LIVE} AND last_heartbeat_at < now() - make_interval(secs => ?)
           ${among ? 'AND id = ANY(?::text[])' : ''}
         FOR UPDATE SKIP LOCKED
       )
       UPDATE gpus AS g SET online = false, updated_at = now() FROM due WHERE g.id = due.id RETURNING g.*`,
      among ? [ttlSeconds, among] : [ttlSeconds],
    );
    return rows as GpuRow[];
  },

  async staleOnline(db, ttlSeconds, ids) {
    const rows: { id: string }[] = await db('gpus').select('id').where('online', true).whereNull('deleted_at')
      .whereRaw('id = ANY(?::text[])', [ids]).whereRaw('last_heartbeat_at < now() - make_interval(secs => ?)', [ttlSeconds]);
    return rows.map((r) => r.id);
  },
};
