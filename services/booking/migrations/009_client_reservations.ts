import type { Knex, Migration } from '../../../lib/db';

/**
 * A client's own live bookings by start: counting the reservations it holds (at most
 * MAX_RESERVATIONS_PER_CLIENT) reads only those, however many bookings it has made.
 */
export const migration009ClientReservations: Migration = {
  name: '009_client_reservations',
  async up(db: Knex) {
    await db.raw("CREATE INDEX bookings_client_live ON bookings (client_id, start_time) WHERE status = 'active'");
  },
};
