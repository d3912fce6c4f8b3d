import type { Knex, Migration } from '../../../lib/db';

/**
 * What a reservation needs when its window opens: whether its GPU is online then. The
 * service keeps each GPU's last known liveness from gpu.status_changed (gpu_liveness), and
 * marks each booking once its start has been checked against it (window_checked): bookings
 * that start at once are checked when made (the registry said online), reservations when
 * their window opens.
 */
export const migration003ReservationWindows: Migration = {
  name: '003_reservation_windows',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE gpu_liveness (
        gpu_id text PRIMARY KEY,
        online boolean NOT NULL,
        -- When the registry says the status changed (the event's time, not when it arrived).
        changed_at timestamptz NOT NULL
      )`);
    await db.raw('ALTER TABLE bookings ADD COLUMN window_checked boolean');
    await db.raw("UPDATE bookings SET window_checked = (status <> 'active' OR start_time <= now())");
    await db.raw('ALTER TABLE bookings ALTER COLUMN window_checked SET NOT NULL, ALTER COLUMN window_checked SET DEFAULT true');
    await db.raw("CREATE INDEX bookings_windows_due ON bookings (start_time) WHERE status = 'active' AND NOT window_checked");
  },
};
