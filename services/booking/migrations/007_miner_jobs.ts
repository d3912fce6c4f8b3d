import type { Knex, Migration } from '../../../lib/db';

/** A provider's view of one miner's jobs (`miner jobs`): its bookings, newest first, by index. */
export const migration007MinerJobs: Migration = {
  name: '007_miner_jobs',
  async up(db: Knex) {
    await db.raw('CREATE INDEX bookings_owner_miner ON bookings (owner_id, miner_id, created_at, booking_id)');
  },
};
