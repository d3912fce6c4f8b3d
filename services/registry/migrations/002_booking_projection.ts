import type { Knex, Migration } from '../../../lib/db';

/**
 * The registry's projection of booking events: the live bookings of each GPU, and on the GPU
 * row the earliest of them (so status and lists need no join).
 */
export const migration002BookingProjection: Migration = {
  name: '002_booking_projection',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE live_bookings (
        booking_id text PRIMARY KEY,
        gpu_id text NOT NULL,
        client_id text NOT NULL,
        start_time timestamptz NOT NULL,
        end_time timestamptz NOT NULL
      )`);
    await db.raw('CREATE INDEX live_bookings_gpu ON live_bookings (gpu_id, start_time)');
    await db.raw('ALTER TABLE gpus ADD COLUMN booking_starts timestamptz');
  },
};
