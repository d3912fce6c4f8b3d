import type { Knex } from '../../../lib/db';

export interface LiveBooking {
  booking_id: string;
  gpu_id: string;
  client_id: string;
  start_time: Date;
  end_time: Date;
}

/** The registry's SQL for what it keeps from other services' events: live bookings and ratings on GPU rows. */
export const projectionStore = {
  // Each returns its one statement unrun: a consumer runs it with the event's inbox row.

  /** Projection of review events: the GPU's rating summary, unless a newer one is shown. */
  setRating(db: Knex, gpuId: string, { average, total, version }: { average: number; total: number; version: number }): Knex.QueryBuilder {
    return db('gpus').where({ id: gpuId }).where('rating_version', '<', version)
      .update({ average_rating: average, total_reviews: total, rating_version: version });
  },

  /** Projection of booking.created: remembers a live booking, counts it, refreshes the GPU. */
  addLiveBooking(db: Knex, booking: LiveBooking): Knex.Raw {
    // One statement: remember the booking, count it, and put the GPU's earliest live booking
    // (the new one included: CTEs see the table as it was) on its row.
    return db.raw(
      `WITH ins AS (
         INSERT INTO live_bookings (booking_id, gpu_id, client_id, start_time, end_time) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (booking_id) DO NOTHING RETURNING booking_id, start_time, end_time
       ), next AS (
         SELECT booking_id, start_time, end_time FROM (
           SELECT booking_id, start_time, end_time FROM live_bookings WHERE gpu_id = ? AND end_time > now()
           UNION ALL SELECT booking_id, start_time, end_time FROM ins WHERE end_time > now()
         ) AS live ORDER BY start_time LIMIT 1
       )
       UPDATE gpus SET total_bookings = total_bookings + (SELECT count(*) FROM ins),
         current_booking_id = (SELECT booking_id FROM next), booking_starts = (SELECT start_time FROM next),
         booking_expires = (SELECT end_time FROM next)
       WHERE id = ?`,
      [booking.booking_id, booking.gpu_id, booking.client_id, booking.start_time, booking.end_time, booking.gpu_id, booking.gpu_id],
    );
  },

  /** Projection of booking.ended. */
  removeLiveBooking(db: Knex, bookingId: string, gpuId: string): Knex.Raw {
    return db.raw(
      `WITH del AS (DELETE FROM live_bookings WHERE booking_id = ? RETURNING booking_id), next AS (
         SELECT booking_id, start_time, end_time FROM live_bookings
         WHERE gpu_id = ? AND booking_id <> ? AND end_time > now() ORDER BY start_time LIMIT 1
       )
       UPDATE gpus SET current_booking_id = (SELECT booking_id FROM next), booking_starts = (SELECT start_time FROM next),
         booking_expires = (SELECT end_time FROM next)
       WHERE id = ?`,
      [bookingId, gpuId, bookingId, gpuId],
    );
  },
};

export type ProjectionStore = typeof projectionStore;
