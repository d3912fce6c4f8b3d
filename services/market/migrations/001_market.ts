import type { Knex, Migration } from '../../../lib/db';

/**
 * The market's view of GPUs and bookings (from events), and its bids. A bid is a client's
 * standing order for `capacity` GPUs at most `price_micro` per GPU-hour; it is filled all at
 * once (its booking ids) or not at all, or rejected (expired, cancelled) with a reason.
 */
export const migration001Market: Migration = {
  name: '001_market',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE gpus (
        gpu_id text PRIMARY KEY,
        owner_id text NOT NULL,
        miner_id text NOT NULL,
        model text NOT NULL,
        model_key text NOT NULL,
        memory_gb integer NOT NULL,
        region text NOT NULL DEFAULT '',
        -- What it rents for: its open offer's price, else its listing's.
        price_micro bigint NOT NULL,
        offer_open boolean NOT NULL DEFAULT false,
        online boolean NOT NULL,
        average_rating double precision NOT NULL DEFAULT 0,
        rating_version integer NOT NULL DEFAULT 0,
        unregistered boolean NOT NULL DEFAULT false
      );
      CREATE TABLE bookings (
        booking_id text PRIMARY KEY,
        gpu_id text NOT NULL,
        start_time timestamptz NOT NULL,
        end_time timestamptz NOT NULL,
        live boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX bookings_live ON bookings (gpu_id, end_time) WHERE live;
      CREATE INDEX bookings_created ON bookings (created_at);
      CREATE TABLE bids (
        bid_id text PRIMARY KEY,
        client_id text NOT NULL,
        provider text NOT NULL,
        capacity integer NOT NULL CHECK (capacity BETWEEN 1 AND 64),
        price_micro bigint NOT NULL CHECK (price_micro > 0),
        duration_seconds integer NOT NULL CHECK (duration_seconds > 0),
        gpu_model text NOT NULL DEFAULT '',
        memory_min integer NOT NULL DEFAULT 0,
        region text NOT NULL DEFAULT '',
        notes text NOT NULL DEFAULT '',
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
        reason text NOT NULL DEFAULT '',
        booking_ids text[] NOT NULL DEFAULT '{}',
        submitted_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        decided_at timestamptz
      );
      CREATE INDEX bids_pending ON bids (price_micro DESC, submitted_at) WHERE status = 'pending';
      CREATE INDEX bids_client ON bids (client_id, submitted_at DESC, bid_id);
      CREATE INDEX bids_all ON bids (submitted_at DESC, bid_id);
    `);
  },
};
