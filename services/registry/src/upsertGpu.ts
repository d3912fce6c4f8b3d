import type { Knex } from '../../../lib/db';
import { DomainError } from '../../../lib/errors';
import { modelKeyOf } from '../../../lib/modelCatalogue';
import { modelKey } from '../../../lib/modelCatalogue';
import type { GpuRow, UpsertInput } from './store';

const LIVE = 'deleted_at IS NULL';

/**
 * Creates a GPU, or updates the one its miner registered with the same hardware key, in one
 * statement. A hardware UUID the account lists under another of its miners is refused: one
 * physical GPU is one listing of its owner (the database's unique index decides).
 */
export async function upsertGpu(db: Knex, input: UpsertInput): Promise<{ row: GpuRow; created: boolean; wasOnline?: boolean }> {
  try {
    return await upsert(db, input);
  } catch (err) {
    if ((err as { constraint?: string }).constraint === 'gpus_live_uuid') {
      throw new DomainError('ALREADY_EXISTS', `GPU ${input.spec.uuid} is registered already under another of your miners; unregister it there first`, 'uuid');
    }
    throw err;
  }
}

async function upsert(db: Knex, { id, ownerId, minerId, hwKey, spec, defaultPriceMicro }: UpsertInput): Promise<{ row: GpuRow; created: boolean; wasOnline?: boolean }> {
  // Optional spec fields are NULL when not given: an insert takes the default, an
  // update keeps the stored value. One statement, so concurrent registrations of one
  // hardware UUID cannot create two GPUs.
  // The stored liveness first, in a statement of its own: read inside the upsert, the row
  // that statement updates is invisible to it, and a GPU coming back by registering again
  // announced no status change. (Callers hold a transaction, so the lock lasts.)
  const prev = await db.raw(`SELECT online FROM gpus WHERE owner_id = ? AND miner_id = ? AND hw_key = ? AND ${LIVE} FOR UPDATE`, [ownerId, minerId, hwKey]);
  const wasOnline: boolean | undefined = prev.rows[0]?.online;
  const { rows } = await db.raw(
    `INSERT INTO gpus AS g (id, owner_id, miner_id, hw_key, uuid, model, model_key, catalog_key, memory_gb, cuda_cores,
       compute_capability, cuda_version, driver_version, region, price_micro, description, capabilities, online, last_heartbeat_at)
     VALUES (:id, :ownerId, :minerId, :hwKey, :uuid, :model, :modelKey, :catalogKey, :memoryGb, COALESCE(CAST(:cudaCores AS integer), 0),
       COALESCE(CAST(:cc AS text), ''), COALESCE(CAST(:cuda AS text), ''), COALESCE(CAST(:driver AS text), ''), COALESCE(CAST(:region AS text), ''), COALESCE(CAST(:price AS bigint), CAST(:defaultPrice AS bigint)),
       COALESCE(CAST(:description AS text), ''), COALESCE(CAST(:capabilities AS text[]), '{}'), true, now())
     ON CONFLICT (owner_id, miner_id, hw_key) WHERE ${LIVE} DO UPDATE SET
       model = EXCLUDED.model, model_key = EXCLUDED.model_key, catalog_key = EXCLUDED.catalog_key, memory_gb = EXCLUDED.memory_gb,
       cuda_cores = COALESCE(CAST(:cudaCores AS integer), g.cuda_cores),
       compute_capability = COALESCE(CAST(:cc AS text), g.compute_capability),
       cuda_version = COALESCE(CAST(:cuda AS text), g.cuda_version),
       driver_version = COALESCE(CAST(:driver AS text), g.driver_version),
       region = COALESCE(CAST(:region AS text), g.region),
       price_micro = COALESCE(CAST(:price AS bigint), g.price_micro),
       description = COALESCE(CAST(:description AS text), g.description),
       capabilities = COALESCE(CAST(:capabilities AS text[]), g.capabilities),
       online = true, last_heartbeat_at = now(), updated_at = now()
     RETURNING g.*, (xmax = 0) AS created`,
    {
      id, ownerId, minerId, hwKey, uuid: spec.uuid ?? null, model: spec.model, modelKey: modelKey(spec.model), catalogKey: modelKeyOf(spec.model),
      memoryGb: spec.memoryGb, cudaCores: spec.cudaCores ?? null, cc: spec.computeCapability ?? null,
      cuda: spec.cudaVersion ?? null, driver: spec.driverVersion ?? null, region: spec.region ?? null, price: spec.priceMicro ?? null,
      defaultPrice: defaultPriceMicro, description: spec.description ?? null, capabilities: spec.capabilities ?? null,
    },
  );
  const { created, ...row } = rows[0] as GpuRow & { created: boolean };
  return { row, created, wasOnline: created ? undefined : wasOnline };
}
