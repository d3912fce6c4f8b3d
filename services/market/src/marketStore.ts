import type { Knex } from '../../../lib/db';
import type { Booking } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import type { Candidate } from './domain/alternatives';
import type { FreeGpu, ListedGpu } from './domain/matching';

/** A GPU as the market keeps it (from gpu.* and review events). */
export interface MarketGpu extends ListedGpu {
  offer_open: boolean;
  /** Its owner closed its offer: bids and rent leave it alone (it can still be booked by id). */
  withdrawn: boolean;
  offer_min_hours: number | null;
  offer_max_hours: number | null;
  online: boolean;
}

/** The market's SQL over its projection of GPUs and bookings. */
export const marketStore = {
  async putGpu(db: Knex, gpu: MarketGpu): Promise<void> {
    await db('gpus').insert({ ...gpu, unregistered: false }).onConflict('gpu_id').merge([
      'owner_id', 'miner_id', 'model', 'model_key', 'memory_gb', 'region', 'price_micro', 'offer_open', 'withdrawn', 'offer_min_hours', 'offer_max_hours', 'online',
    ]);
  },
  async setOnline(db: Knex, gpuId: string, online: boolean): Promise<void> {
    await db('gpus').where({ gpu_id: gpuId }).update({ online });
  },
  async unregister(db: Knex, gpuId: string): Promise<void> {
    await db('gpus').where({ gpu_id: gpuId }).update({ unregistered: true, online: false, offer_open: false });
  },
  async setRating(db: Knex, gpuId: string, average: number, version: number): Promise<void> {
    await db('gpus').where({ gpu_id: gpuId }).where('rating_version', '<', version).update({ average_rating: average, rating_version: version });
  },
  async addBooking(db: Knex, b: { booking_id: string; gpu_id: string; start_time: Date; end_time: Date; created_at: Date }): Promise<void> {
    await db('bookings').insert(b).onConflict('booking_id').ignore();
  },
  /** A booking as the market keeps it: from its event, or from the market's own call as soon as it answers. */
  async noteBooking(db: Knex, booking: Booking, at?: Date): Promise<void> {
    await marketStore.addBooking(db, {
      booking_id: booking.bookingId, gpu_id: booking.gpuId, start_time: booking.startTime!, end_time: booking.endTime!, created_at: booking.createdAt ?? at ?? new Date(),
    });
  },
  async endBooking(db: Knex, bookingId: string): Promise<void> {
    await db('bookings').where({ booking_id: bookingId }).update({ live: false });
  },

  /**
   * GPUs online, not booked within `leadMs` from now, with how long each stays free (until
   * its next live booking; null: no booking ahead).
   */
  async free(db: Knex, leadMs: number): Promise<(FreeGpu & { free_until: Date | null })[]> {
    const { rows } = await db.raw(
      `SELECT g.gpu_id, g.owner_id, g.miner_id, g.model, g.model_key, g.memory_gb, g.region, g.price_micro, g.average_rating,
         g.offer_min_hours, g.offer_max_hours,
         (SELECT min(b.start_time) FROM bookings b WHERE b.gpu_id = g.gpu_id AND b.live AND b.end_time > now()) AS free_until
       FROM gpus g
       WHERE g.online AND NOT g.unregistered AND NOT g.withdrawn
         AND NOT EXISTS (SELECT 1 FROM bookings b WHERE b.gpu_id = g.gpu_id AND b.live AND b.end_time > now()
           AND b.start_time <= now() + ? * interval '1 millisecond')`,
      [leadMs],
    );
    return rows;
  },

  /** Every GPU online and offered, whatever its price or bookings (for a rent's alternatives). */
  async candidates(db: Knex): Promise<Candidate[]> {
    const { rows } = await db.raw(
      `SELECT g.*,
         (SELECT max(b.end_time) FROM bookings b WHERE b.gpu_id = g.gpu_id AND b.live AND b.end_time > now() AND b.start_time <= now()) AS busy_until,
         (SELECT min(b.start_time) FROM bookings b WHERE b.gpu_id = g.gpu_id AND b.live AND b.start_time > now()) AS next_start
       FROM gpus g WHERE g.online AND NOT g.unregistered AND NOT g.withdrawn`,
    );
    return rows.map((r: Candidate) => ({ ...r, free_until_ms: null }));
  },

  /** The market's figures, in one statement. */
  async stats(db: Knex): Promise<Record<string, unknown>> {
    const { rows } = await db.raw(`
      WITH live AS (SELECT g.*, EXISTS (SELECT 1 FROM bookings b WHERE b.gpu_id = g.gpu_id AND b.live AND b.start_time <= now() AND b.end_time > now()) AS booked
                    FROM gpus g WHERE NOT g.unregistered)
      SELECT
        (SELECT count(*) FROM live WHERE offer_open) AS total_offers,
        (SELECT count(*) FROM live WHERE offer_open AND online AND NOT booked) AS open_capacity,
        (SELECT coalesce(round(avg(price_micro)), 0) FROM live WHERE offer_open) AS average_price_micro,
        (SELECT count(*) FROM bids WHERE status = 'pending' AND expires_at > now()) AS active_bids,
        (SELECT count(*) FROM bookings WHERE created_at > now() - interval '24 hours') AS bookings_last_24h,
        (SELECT count(*) FROM live WHERE online) AS gpus_online,
        (SELECT count(*) FROM live WHERE booked) AS gpus_booked,
        (SELECT coalesce(json_agg(m ORDER BY m.model), '[]') FROM (
           SELECT min(model) AS model, count(*) FILTER (WHERE online) AS online, count(*) FILTER (WHERE booked) AS booked,
             percentile_disc(0.5) WITHIN GROUP (ORDER BY price_micro) AS median_price_micro
           FROM live GROUP BY model_key) m) AS models`);
    return rows[0];
  },

  /** Forgets ended bookings older than a day and a little (the stats look back 24 h). */
  async prune(db: Knex): Promise<void> {
    await db('bookings').where({ live: false }).where('created_at', '<', db.raw(`now() - interval '25 hours'`)).del();
  },
};

export type MarketStore = typeof marketStore;
