import type { Knex, Migration } from '../../../lib/db';

/**
 * A hardware UUID names one physical GPU: an account lists it once, under one of its miners,
 * at a time, whatever the letter case. Registering it under another of its miners is refused until it is unregistered
 * where it is (the same miner re-registering it updates it, as before). Across accounts it is
 * not unique: a UUID is self-reported, so uniqueness there would stop no fraud (one invents
 * another) and would let anyone who read a UUID in the public list squat it.
 */
export const migration007OneGpuPerUuid: Migration = {
  name: '007_one_gpu_per_uuid',
  async up(db: Knex) {
    await db.raw('CREATE UNIQUE INDEX gpus_live_uuid ON gpus (owner_id, lower(uuid)) WHERE deleted_at IS NULL AND uuid IS NOT NULL');
  },
};
