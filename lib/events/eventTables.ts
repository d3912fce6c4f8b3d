import type { Knex, Migration } from '../db';

/**
 * The event tables every service keeps in its own schema: the outbox (events written in the
 * same transaction as the change they announce), the inbox (event ids a consumer has applied,
 * written in the same transaction as the effect) and dead letters (events given up on).
 */
export const eventTablesMigration: Migration = {
  name: 'events_001_outbox_inbox',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE outbox (
        id bigserial PRIMARY KEY,
        event_id text NOT NULL UNIQUE,
        type text NOT NULL,
        aggregate_id text NOT NULL,
        envelope bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`);
    await db.raw('CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL');
    await db.raw('CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL');
    await db.raw(`
      CREATE TABLE inbox (
        consumer text NOT NULL,
        event_id text NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, event_id)
      )`);
    await db.raw('CREATE INDEX inbox_processed ON inbox (processed_at)');
    await db.raw(`
      CREATE TABLE dead_letters (
        id bigserial PRIMARY KEY,
        consumer text NOT NULL,
        event_id text NOT NULL,
        type text NOT NULL,
        subject text NOT NULL,
        aggregate_id text NOT NULL,
        envelope bytea NOT NULL,
        deliveries integer NOT NULL,
        error text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  },
};
