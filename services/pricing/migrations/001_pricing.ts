import type { Knex, Migration } from '../../../lib/db';

/**
 * Pricing's own state (models: base price, multiplier, the last computation; price_points:
 * history) and its projection of registry and booking events (gpus, bookings), from which
 * supply and demand are counted.
 */
export const migration001Pricing: Migration = {
  name: '001_pricing',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE gpus (
        gpu_id text PRIMARY KEY,
        model_key text NOT NULL,
        model text NOT NULL,
        price_micro bigint NOT NULL,
        online boolean NOT NULL
      )`);
    await db.raw('CREATE INDEX gpus_model ON gpus (model_key)');
    await db.raw(`
      CREATE TABLE bookings (
        booking_id text PRIMARY KEY,
        gpu_id text NOT NULL,
        model_key text NOT NULL,
        price_per_hour_micro bigint NOT NULL,
        start_time timestamptz NOT NULL,
        end_time timestamptz NOT NULL,
        created_at timestamptz NOT NULL,
        ended_at timestamptz
      )`);
    await db.raw('CREATE INDEX bookings_live ON bookings (gpu_id) WHERE ended_at IS NULL');
    await db.raw('CREATE INDEX bookings_recent ON bookings (created_at)');
    await db.raw(`
      CREATE TABLE models (
        model_key text PRIMARY KEY,
        model text NOT NULL,
        admin_price_micro bigint CHECK (admin_price_micro > 0),
        base_price_micro bigint NOT NULL DEFAULT 0,
        base_price_source text NOT NULL DEFAULT 'none',
        -- The smoothed utilisation the multiplier follows (0..1) and when it was computed.
        utilization double precision NOT NULL,
        computed_at timestamptz NOT NULL,
        multiplier_bp integer NOT NULL,
        current_price_micro bigint NOT NULL DEFAULT 0,
        instant_utilization_bp integer NOT NULL DEFAULT 0,
        total_gpus integer NOT NULL DEFAULT 0,
        online_gpus integer NOT NULL DEFAULT 0,
        booked_gpus integer NOT NULL DEFAULT 0,
        available_gpus integer NOT NULL DEFAULT 0,
        recent_bookings integer NOT NULL DEFAULT 0,
        min_price_micro bigint NOT NULL DEFAULT 0,
        max_price_micro bigint NOT NULL DEFAULT 0,
        average_price_micro bigint NOT NULL DEFAULT 0,
        cheapest_gpu_id text NOT NULL DEFAULT '',
        cheapest_price_micro bigint NOT NULL DEFAULT 0,
        fair_low_micro bigint NOT NULL DEFAULT 0,
        fair_high_micro bigint NOT NULL DEFAULT 0,
        fair_band_bookings integer NOT NULL DEFAULT 0,
        last_point_price_micro bigint,
        last_point_at timestamptz
      )`);
    await db.raw(`
      CREATE TABLE price_points (
        model_key text NOT NULL,
        at timestamptz NOT NULL,
        price_micro bigint NOT NULL,
        base_price_micro bigint NOT NULL,
        multiplier_bp integer NOT NULL,
        utilization_bp integer NOT NULL,
        online_gpus integer NOT NULL,
        booked_gpus integer NOT NULL,
        PRIMARY KEY (model_key, at)
      )`);
  },
};
