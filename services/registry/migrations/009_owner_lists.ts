import type { Knex, Migration } from '../../../lib/db';

/**
 * A provider's own GPUs, newest first (`owner_id` on the list: the console's fleet, offers
 * and earnings pages): walked in an index led by the owner, so the page stops after `limit`
 * rows whatever the marketplace's size. Other sorts read the owner's GPUs and sort them.
 */
export const migration009OwnerLists: Migration = {
  name: '009_owner_lists',
  async up(db: Knex) {
    await db.raw('CREATE INDEX gpus_owner_newest ON gpus (owner_id, created_at DESC, id DESC) WHERE deleted_at IS NULL');
  },
};
