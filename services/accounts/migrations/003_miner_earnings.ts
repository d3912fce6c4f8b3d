import type { Knex, Migration } from '../../../lib/db';

/**
 * A hold names the GPU and the miner it pays for, so what a miner earned is read from the
 * ledger's own entries (joined on the booking), not kept a second time. Holds from before
 * this migration name neither ('') and count for no miner.
 */
export const migration003MinerEarnings: Migration = {
  name: '003_miner_earnings',
  async up(db: Knex) {
    await db.raw(`
      ALTER TABLE holds
        ADD COLUMN gpu_id text NOT NULL DEFAULT '',
        ADD COLUMN miner_id text NOT NULL DEFAULT '';
      CREATE INDEX holds_owner_miner ON holds (owner_id, miner_id);
      CREATE INDEX ledger_entries_booking ON ledger_entries (booking_id) WHERE booking_id IS NOT NULL;
    `);
  },
};
