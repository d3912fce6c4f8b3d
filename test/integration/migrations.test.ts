import assert from 'node:assert/strict';
import { openDb } from '../../lib/db';
import { registryMigrations } from '../../services/registry/migrations';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

describe('registry migrations on data written by an earlier version', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database?.drop();
  });

  it('gives GPUs registered before the model catalogue their canonical key, and keeps everything else', async () => {
    // The schema as the version before the catalogue left it, with GPUs in it.
    const before = registryMigrations.findIndex((m) => m.name === '003_model_catalogue');
    const old = await openDb({ url: database.url, schema: 'registry', migrations: registryMigrations.slice(0, before) });
    const gpu = (id: string, model: string) => ({
      id, owner_id: 'acme', miner_id: 'rig', hw_key: id, model, model_key: model.toLowerCase().replace(/[^a-z0-9]+/g, ''),
      memory_gb: 24, price_micro: 1_000_000, last_heartbeat_at: new Date(), average_rating: 4.5, total_reviews: 2,
    });
    await old('gpus').insert([gpu('gpu_a', 'NVIDIA GeForce RTX 4090'), gpu('gpu_b', '4090'), gpu('gpu_c', 'FooGPU 9000')]);
    await old.destroy();

    const db = await openDb({ url: database.url, schema: 'registry', migrations: registryMigrations });
    try {
      const rows = await db('gpus').orderBy('id').select('id', 'catalog_key', 'rating_version', 'average_rating', 'total_reviews');
      assert.deepEqual(rows.map((r) => [r.id, r.catalog_key, Number(r.rating_version), Number(r.average_rating), r.total_reviews]), [
        ['gpu_a', 'rtx-4090', 0, 4.5, 2],
        ['gpu_b', 'rtx-4090', 0, 4.5, 2],
        ['gpu_c', 'foogpu-9000', 0, 4.5, 2],
      ]);
    } finally {
      await db.destroy();
    }
  });
});
