import type { Knex, Migration } from '../../../lib/db';

/**
 * A booking has one moment it ended, `ended_at`. `completed_at` was written from three
 * clocks by three ways of ending and read by nothing.
 */
export const migration005OneEndTime: Migration = {
  name: '005_one_end_time',
  async up(db: Knex) {
    await db.raw('ALTER TABLE bookings DROP COLUMN completed_at');
  },
};
