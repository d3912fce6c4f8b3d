import type { Knex, Migration } from '../../../lib/db';

/**
 * Bookings and their orders. A booking and its order are one-to-one and change together
 * (the order is the booking's billing side), so they share one row: one write, no drift.
 */
export const migration001Bookings: Migration = {
  name: '001_bookings',
  async up(db: Knex) {
    await db.raw('CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public');
    await db.raw(`
      CREATE TABLE bookings (
        booking_id text PRIMARY KEY,
        order_id text NOT NULL UNIQUE,
        gpu_id text NOT NULL,
        gpu_model text NOT NULL,
        miner_id text NOT NULL,
        owner_id text NOT NULL,
        client_id text NOT NULL,
        job_id text NOT NULL DEFAULT '',
        status text NOT NULL CHECK (status IN ('active', 'completed', 'released', 'cancelled')),
        start_time timestamptz NOT NULL,
        end_time timestamptz NOT NULL,
        duration_seconds bigint NOT NULL CHECK (duration_seconds > 0),
        price_per_hour_micro bigint NOT NULL CHECK (price_per_hour_micro > 0),
        listed_price_micro bigint NOT NULL,
        multiplier double precision NOT NULL,
        price_source text NOT NULL,
        total_cost_micro bigint NOT NULL CHECK (total_cost_micro >= 0),
        charged_micro bigint,
        refund_micro bigint,
        confirmed_at timestamptz,
        ended_at timestamptz,
        end_reason text,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        completed_at timestamptz,
        CHECK (end_time > start_time),
        CHECK ((charged_micro IS NULL AND refund_micro IS NULL)
          OR (charged_micro >= 0 AND refund_micro >= 0 AND charged_micro + refund_micro = total_cost_micro)),
        -- No double booking, by construction: live bookings of one GPU never overlap.
        CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
          gpu_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&
        ) WHERE (status = 'active')
      )`);
    await db.raw("CREATE INDEX bookings_due ON bookings (end_time) WHERE status = 'active'");
    await db.raw("CREATE INDEX bookings_gpu_live ON bookings (gpu_id, start_time) WHERE status = 'active'");
    await db.raw('CREATE INDEX bookings_client ON bookings (client_id, created_at, booking_id)');
    await db.raw('CREATE INDEX bookings_owner ON bookings (owner_id, created_at, booking_id)');
    await db.raw('CREATE INDEX bookings_created ON bookings (created_at, booking_id)');
    await db.raw("CREATE INDEX bookings_job ON bookings (client_id, job_id) WHERE job_id <> ''");
    await db.raw(`
      CREATE TABLE idempotency_keys (
        account_id text NOT NULL,
        key text NOT NULL,
        request_hash text NOT NULL,
        response bytea,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (account_id, key)
      )`);
    await db.raw('CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)');
  },
};
