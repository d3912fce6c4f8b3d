import type { Knex, Migration } from '../../../lib/db';

/**
 * A booking earns a review once it has started, unless it ended charging nothing (released
 * before it began, or refunded in full): reserving far ahead and releasing at once must not
 * buy a review. Rows from before have no start time and keep counting.
 */
export const migration002RentersWhoUsed: Migration = {
  name: '002_renters_who_used',
  async up(db: Knex) {
    await db.raw('ALTER TABLE renters ADD COLUMN start_time timestamptz');
    await db.raw('ALTER TABLE renters ADD COLUMN unused boolean NOT NULL DEFAULT false');
    await db.raw('CREATE INDEX renters_booking ON renters (booking_id)');
  },
};
