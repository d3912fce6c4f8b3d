import type { Knex, Migration } from '../../../lib/db';

/**
 * Who made each booking: the client itself, or the service (a coordinator) that booked for
 * it. A service may see and end only the bookings it made. Earlier bookings made by a
 * service (those with a job id) cannot be told apart and stay any service's (null).
 */
export const migration004BookedBy: Migration = {
  name: '004_booked_by',
  async up(db: Knex) {
    await db.raw('ALTER TABLE bookings ADD COLUMN booked_by text');
    await db.raw("UPDATE bookings SET booked_by = client_id WHERE job_id = ''");
    await db.raw('CREATE INDEX bookings_booked_by ON bookings (booked_by, created_at, booking_id)');
  },
};
