import type { Knex, Migration } from '../../../lib/db';

/**
 * A job holds at most one live booking per client, decided by the database: concurrent
 * BookForJob calls for one job cannot each book (and charge) a GPU. Live duplicates left by
 * the race this closes would make the index impossible to build; they are named instead of
 * guessed at (ending one moves money), so an operator can release the extras and restart.
 */
export const migration002OneLiveBookingPerJob: Migration = {
  name: '002_one_live_booking_per_job',
  async up(db: Knex) {
    const { rows } = await db.raw(`
      SELECT client_id, job_id, string_agg(booking_id, ', ' ORDER BY created_at) AS bookings
      FROM bookings WHERE status = 'active' AND job_id <> '' GROUP BY client_id, job_id HAVING count(*) > 1 LIMIT 20`);
    if (rows.length) {
      const list = (rows as { client_id: string; job_id: string; bookings: string }[])
        .map((r) => `client ${r.client_id} job ${r.job_id}: ${r.bookings}`).join('; ');
      throw new Error(`cannot enforce one live booking per job: these jobs hold several (release all but the first, then restart): ${list}`);
    }
    await db.raw(`CREATE UNIQUE INDEX bookings_one_live_per_job ON bookings (client_id, job_id) WHERE status = 'active' AND job_id <> ''`);
  },
};
