import type { Knex, Migration } from '../../../lib/db';

/**
 * No two bookings of a GPU overlap in the time they held it, ended ones included. The first
 * constraint covered live bookings only, so a booking whose start was taken a few ms before
 * its insert (while a hold and a quote were fetched) could land after the booking before it
 * expired and start before that one's end: the fleet test under load found such 10 ms
 * overlaps. A booking's used time is start to the earlier of its end and when it ended
 * (empty when it ended before starting, and empty ranges never conflict). Bookings made
 * before this migration stay covered only while live (they may hold such overlaps already).
 */
export const migration008UsedTimeNeverOverlaps: Migration = {
  name: '008_used_time_never_overlaps',
  async up(db: Knex) {
    const { rows } = await db.raw("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS cutover");
    await db.raw(`ALTER TABLE bookings ADD CONSTRAINT bookings_used_time_no_overlap EXCLUDE USING gist (
      gpu_id WITH =,
      tstzrange(start_time, GREATEST(start_time, LEAST(end_time, COALESCE(ended_at, end_time))), '[)') WITH &&
    ) WHERE (created_at >= '${rows[0].cutover}'::timestamptz)`);
  },
};
