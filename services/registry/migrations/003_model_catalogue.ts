import type { Knex, Migration } from '../../../lib/db';
import { modelKeyOf } from '../../../lib/modelCatalogue';

/**
 * Each GPU's canonical model key from the model catalogue (`rtx-4090`), so a filter for
 * "NVIDIA GeForce RTX 4090" finds a GPU registered as "4090". Rows written before this
 * migration get their key here, computed by the same function the registry uses.
 */
export const migration003ModelCatalogue: Migration = {
  name: '003_model_catalogue',
  async up(db: Knex) {
    await db.raw(`ALTER TABLE gpus ADD COLUMN catalog_key text NOT NULL DEFAULT ''`);
    const models: { model: string }[] = await db('gpus').distinct('model');
    for (const { model } of models) await db('gpus').where({ model }).update({ catalog_key: modelKeyOf(model) });
    await db.raw(`CREATE INDEX gpus_catalog_key ON gpus (catalog_key) WHERE deleted_at IS NULL`);
  },
};
