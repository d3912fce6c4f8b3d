import type { Knex, Migration } from '../../../lib/db';

/**
 * The version of the rating summary a GPU row shows (from review events), so a summary
 * never replaces a newer one, whatever order events arrive in.
 */
export const migration004RatingProjection: Migration = {
  name: '004_rating_projection',
  async up(db: Knex) {
    await db.raw('ALTER TABLE gpus ADD COLUMN rating_version bigint NOT NULL DEFAULT 0');
  },
};
