import type { Knex, Migration } from '../../../lib/db';

/** GPUs, their specs, ownership, liveness and the booking/review projections. */
export const migration001Gpus: Migration = {
  name: '001_gpus',
  async up(db: Knex) {
    await db.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public');
    await db.raw(`
      CREATE TABLE gpus (
        id text PRIMARY KEY,
        owner_id text NOT NULL,
        miner_id text NOT NULL,
        -- What makes re-registration an update: the hardware UUID, a miner's slot, or the id.
        hw_key text NOT NULL,
        uuid text,
        model text NOT NULL,
        model_key text NOT NULL,
        memory_gb integer NOT NULL CHECK (memory_gb > 0),
        cuda_cores integer NOT NULL DEFAULT 0 CHECK (cuda_cores >= 0),
        compute_capability text NOT NULL DEFAULT '',
        cuda_version text NOT NULL DEFAULT '',
        region text NOT NULL DEFAULT '',
        price_micro bigint NOT NULL CHECK (price_micro > 0),
        description text NOT NULL DEFAULT '',
        capabilities text[] NOT NULL DEFAULT '{}',
        online boolean NOT NULL DEFAULT true,
        last_heartbeat_at timestamptz NOT NULL,
        current_booking_id text,
        booking_expires timestamptz,
        total_bookings integer NOT NULL DEFAULT 0,
        average_rating numeric(3,2) NOT NULL DEFAULT 0,
        total_reviews integer NOT NULL DEFAULT 0,
        -- Millisecond precision, so cursor values survive a round trip through JS Dates.
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      ) WITH (fillfactor = 80)`);
    // fillfactor leaves room for HOT updates: heartbeats touch only unindexed columns.
    const live = 'WHERE deleted_at IS NULL';
    await db.raw(`CREATE UNIQUE INDEX gpus_hw_key ON gpus (owner_id, miner_id, hw_key) ${live}`);
    // One index per sort order (keyset pagination walks them; filters are checked on the way).
    await db.raw(`CREATE INDEX gpus_newest ON gpus (created_at, id) ${live}`);
    await db.raw(`CREATE INDEX gpus_price ON gpus (price_micro, id) ${live}`);
    await db.raw(`CREATE INDEX gpus_rating ON gpus (average_rating, id) ${live}`);
    await db.raw(`CREATE INDEX gpus_memory ON gpus (memory_gb, id) ${live}`);
    // The same orders over online GPUs only: `available=true` is the common query, and when
    // most GPUs are offline the general indexes would walk past all of them.
    const online = `${live} AND online`;
    await db.raw(`CREATE INDEX gpus_online_newest ON gpus (created_at, id) ${online}`);
    await db.raw(`CREATE INDEX gpus_online_price ON gpus (price_micro, id) ${online}`);
    await db.raw(`CREATE INDEX gpus_online_rating ON gpus (average_rating, id) ${online}`);
    await db.raw(`CREATE INDEX gpus_online_memory ON gpus (memory_gb, id) ${online}`);
    // Selective filters get their own: trigram indexes for model substrings, and region.
    await db.raw(`CREATE INDEX gpus_model_trgm ON gpus USING gin (model public.gin_trgm_ops) ${live}`);
    await db.raw(`CREATE INDEX gpus_model_key_trgm ON gpus USING gin (model_key public.gin_trgm_ops) ${live}`);
    await db.raw(`CREATE INDEX gpus_region ON gpus (region) ${live}`);
  },
};
