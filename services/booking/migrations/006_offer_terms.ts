import type { Knex, Migration } from '../../../lib/db';

/** The snapshot keeps a GPU's offer terms: its price is the offer's, and bookings last within its hours. */
export const migration006OfferTerms: Migration = {
  name: '006_offer_terms',
  async up(db: Knex) {
    await db.raw('ALTER TABLE gpus ADD COLUMN offer_min_hours double precision, ADD COLUMN offer_max_hours double precision');
  },
};
