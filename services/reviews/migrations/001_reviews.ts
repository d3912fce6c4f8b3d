import type { Knex, Migration } from '../../../lib/db';

/**
 * Reviews with their moderation state; each GPU's rating summary (a histogram of visible
 * ratings, changed in the same transaction as each review) and its history; and the
 * projections this service keeps from events: which GPUs exist and who booked which.
 */
export const migration001Reviews: Migration = {
  name: '001_reviews',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE reviews (
        review_id text PRIMARY KEY,
        gpu_id text NOT NULL,
        client_id text NOT NULL,
        booking_id text NOT NULL,
        rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
        comment text CHECK (char_length(comment) <= 2000),
        hidden boolean NOT NULL DEFAULT false,
        moderation_reason text NOT NULL DEFAULT '',
        moderated_by text,
        moderated_at timestamptz,
        -- Millisecond precision, so cursor values survive a round trip through JS Dates.
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (gpu_id, client_id)
      )`);
    // Pages of a GPU's reviews, newest first: all (admin) and visible only.
    await db.raw('CREATE INDEX reviews_page ON reviews (gpu_id, created_at DESC, review_id DESC)');
    await db.raw('CREATE INDEX reviews_visible_page ON reviews (gpu_id, created_at DESC, review_id DESC) WHERE NOT hidden');
    await db.raw(`
      CREATE TABLE gpu_ratings (
        gpu_id text PRIMARY KEY,
        h1 integer NOT NULL DEFAULT 0 CHECK (h1 >= 0),
        h2 integer NOT NULL DEFAULT 0 CHECK (h2 >= 0),
        h3 integer NOT NULL DEFAULT 0 CHECK (h3 >= 0),
        h4 integer NOT NULL DEFAULT 0 CHECK (h4 >= 0),
        h5 integer NOT NULL DEFAULT 0 CHECK (h5 >= 0),
        version bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.raw(`
      CREATE TABLE rating_history (
        gpu_id text NOT NULL,
        version bigint NOT NULL,
        at timestamptz NOT NULL,
        average_rating numeric(3,2) NOT NULL,
        total_reviews integer NOT NULL,
        PRIMARY KEY (gpu_id, version)
      )`);
    await db.raw(`
      CREATE TABLE known_gpus (
        gpu_id text PRIMARY KEY,
        owner_id text NOT NULL
      )`);
    await db.raw(`
      CREATE TABLE renters (
        gpu_id text NOT NULL,
        client_id text NOT NULL,
        booking_id text NOT NULL,
        booked_at timestamptz NOT NULL,
        PRIMARY KEY (gpu_id, client_id, booking_id)
      )`);
  },
};
