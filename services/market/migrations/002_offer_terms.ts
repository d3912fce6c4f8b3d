import type { Knex, Migration } from '../../../lib/db';

/**
 * What the market must know of a GPU's offer besides its price: whether its owner closed it
 * (withdrawn: bids and rent leave the GPU alone) and the hours it may be booked for (a bid
 * or a rent outside them looks at other GPUs instead of failing on this one).
 */
export const migration002OfferTerms: Migration = {
  name: '002_offer_terms',
  async up(db: Knex) {
    await db.raw(`
      ALTER TABLE gpus
        ADD COLUMN withdrawn boolean NOT NULL DEFAULT false,
        ADD COLUMN offer_min_hours double precision,
        ADD COLUMN offer_max_hours double precision
    `);
  },
};
