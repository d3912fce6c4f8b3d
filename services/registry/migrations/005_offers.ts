import type { Knex, Migration } from '../../../lib/db';

/**
 * A GPU's offer (its owner's terms: price, minimum and maximum hours, supported models) lives
 * on the GPU's row: one offer per GPU by construction, announced with the GPU itself
 * (gpu.updated), closed with it when it leaves.
 */
export const migration005Offers: Migration = {
  name: '005_offers',
  async up(db: Knex) {
    await db.raw(`
      ALTER TABLE gpus
        ADD COLUMN offer_id text,
        ADD COLUMN offer_price_micro bigint CHECK (offer_price_micro > 0),
        ADD COLUMN offer_min_hours double precision,
        ADD COLUMN offer_max_hours double precision,
        ADD COLUMN offer_models text[] NOT NULL DEFAULT '{}',
        ADD COLUMN offer_status text CHECK (offer_status IN ('open', 'closed')),
        ADD COLUMN offer_created_at timestamptz,
        ADD CONSTRAINT offer_hours CHECK (offer_min_hours IS NULL OR (offer_min_hours > 0 AND offer_min_hours <= offer_max_hours))
    `);
    await db.raw(`CREATE INDEX gpus_open_offers ON gpus (offer_price_micro, id) WHERE offer_status = 'open' AND deleted_at IS NULL`);
  },
};
