import assert from 'node:assert/strict';
import type { Knex } from '../../lib/db';
import pg from 'pg';
import { GpuSort, ListGpuChangesRequest, ListGpuChangesResponse, ListGpusRequest, type RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { encodeCursor, planList, type ListPlan } from '../../lib/gpuListQuery';
import type { AsyncClient } from '../../lib/grpcClient';
import { createLogger } from '../../lib/logger';
import { modelKey, modelKeyOf } from '../../lib/modelCatalogue';
import { createGpuReplica, type GpuReplica } from '../../gateway/src/gpuReplica';
import { gpuJson } from '../../gateway/src/gpuJson';
import { listedGpuJson, rebookedGpuJson, serializeList } from '../../gateway/src/gpuListJson';
import { listGpuChanges } from '../../services/registry/src/gpuChanges';
import { gpuMessage } from '../../services/registry/src/gpuMessage';
import { listGpus } from '../../services/registry/src/listGpus';
import { seededRandom } from '../../bench/listQueries';
import { registrySuiteDb } from '../support/registryDatabase';
import { createTestDatabase } from '../support/testDatabase';

// Names and regions outside ASCII on purpose: the replica must leave those comparisons to PostgreSQL.
const MODELS = ['RTX 4090', 'NVIDIA GeForce RTX 4090', 'RTX 3090', 'A100 80GB', 'H100 80GB', 'L40S', 'RTX Ünïcode 9', 'straße GPU'];
const REGIONS = ['eu-west', 'US-East', 'ap-south', 'ᴋ-north'];
const FILTERS = ['', '', 'RTX 4090', '4090', 'rtx*', 'A100*', '*80GB', 'l40s', 'nothing', 'STRASSE', 'ü', 'r_x', '%'];
const SORTS = [GpuSort.GPU_SORT_NEWEST, GpuSort.GPU_SORT_PRICE_ASC, GpuSort.GPU_SORT_PRICE_DESC, GpuSort.GPU_SORT_RATING_ASC,
  GpuSort.GPU_SORT_RATING_DESC, GpuSort.GPU_SORT_MEMORY_ASC, GpuSort.GPU_SORT_MEMORY_DESC];

/** The registry's own answer to a page: its JSON text and next cursor (as rpc.ts and the gateway make them). */
async function registryPage(db: Knex, plan: ListPlan, now: Date): Promise<{ body: string; nextCursor: string }> {
  const rows = await listGpus(db, plan);
  const page = rows.slice(0, plan.limit);
  let nextCursor = '';
  if (rows.length > plan.limit) {
    const last = page[page.length - 1];
    const column = plan.sort.column;
    const value = column === 'created_at' ? last.created_at.toISOString() : column === 'average_rating' ? Number(last.average_rating) : last[column];
    nextCursor = encodeCursor(plan.sort, value, last.id);
  }
  return { body: serializeList(page.map((r) => gpuJson(gpuMessage(r, now)))), nextCursor };
}

/** The replica fed by the registry's change feed itself, on the test's database (the gRPC hop left out). */
function replicaOf(db: Knex, pageSize = 500): GpuReplica {
  const registry = { listGpuChanges: (req: unknown) => listGpuChanges(db, ListGpuChangesRequest.fromPartial(req as never), new Date()) };
  return createGpuReplica(registry as unknown as AsyncClient<RegistryServiceClient>, createLogger('replica', 'silent'),
    { pollMs: 60_000, maxAgeMs: 0, pageSize }, listedGpuJson, rebookedGpuJson);
}

async function loaded(replica: GpuReplica): Promise<void> {
  replica.start();
  for (let i = 0; i < 200 && !(await replica.ready()); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(await replica.ready(), 'the replica loads');
}

/** Random requests over every filter and sort, each walked through its pages: the replica answers exactly as the registry. */
async function compare(db: Knex, replica: GpuReplica, requests: number, seed: number): Promise<{ pages: number; replica: number }> {
  const random = seededRandom(seed);
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  let pages = 0;
  let answered = 0;
  for (let n = 0; n < requests; n++) {
    const req = ListGpusRequest.fromPartial({
      model: pick(FILTERS), sort: pick(SORTS), limit: 1 + Math.floor(random() * 9),
      available: random() < 0.4 ? true : undefined, status: random() < 0.2 ? pick([1, 2, 3]) : 0,
      memoryMin: random() < 0.3 ? pick([24, 48, 80]) : undefined,
      priceMaxMicro: random() < 0.3 ? pick([300000, 600000, 900000]) : undefined,
      priceMinMicro: random() < 0.2 ? pick([100000, 200000]) : undefined,
      region: random() < 0.3 ? pick(['eu-west', 'us-east', 'AP-SOUTH', 'k-north', 'nowhere']) : '',
      minRating: random() < 0.3 ? pick([0, 1.5, 3, 4.5]) : undefined,
      ownerId: random() < 0.15 ? pick(['acme', 'beta']) : '',
      minerId: random() < 0.1 ? 'rig1' : '',
    });
    if (req.available && req.status > 1) req.status = 1;
    let cursor = '';
    for (let p = 0; p < 40; p++) {
      const plan = planList({ ...req, cursor });
      const now = new Date();
      assert.ok(await replica.ready());
      const mine = replica.page(plan, now);
      const theirs = await registryPage(db, plan, now);
      pages++;
      // Without case-insensitive filters nothing is left undecided (an owner's or a miner's GPUs go to the registry's index).
      if (!req.model && !req.region && !req.ownerId && !req.minerId) assert.ok(mine, `the replica answers ${JSON.stringify(req)}`);
      if (mine) {
        answered++;
        assert.equal(mine.body.toString('utf8'), theirs.body, `page ${p + 1} of ${JSON.stringify(req)}`);
        assert.equal(mine.nextCursor, theirs.nextCursor, `cursor after page ${p + 1} of ${JSON.stringify(req)}`);
      }
      if (!theirs.nextCursor) break;
      cursor = theirs.nextCursor;
    }
  }
  return { pages, replica: answered };
}

describe('GPU list replica (the gateway\'s, fed by the registry\'s change feed on PostgreSQL)', () => {
  let db: Knex;
  registrySuiteDb(async (made) => {
    db = made;
    // Ties on purpose (few prices, ratings and sizes), bookings now and later, offline and unregistered GPUs.
    await db.raw(`
      INSERT INTO gpus (id, owner_id, miner_id, hw_key, model, model_key, catalog_key, memory_gb, region, price_micro, online,
        last_heartbeat_at, average_rating, total_reviews, created_at, booking_expires, booking_starts, current_booking_id, deleted_at)
      SELECT 'gpu_' || lpad(i::text, 20, '0'), (ARRAY['acme', 'beta'])[1 + i % 2], 'rig' || (i % 3), 'slot:' || i, m.model, m.model_key, m.catalog_key,
        (ARRAY[24, 48, 80])[1 + i % 3], (?::text[])[1 + i % 9 % 4], 100000 * (1 + i % 10), i % 6 <> 0, now(), (i % 11) / 2.0, i % 11,
        date_trunc('milliseconds', now()) - (i % 53 || ' seconds')::interval,
        CASE WHEN i % 7 = 0 THEN now() + interval '1 hour' END, CASE WHEN i % 14 = 0 THEN now() + interval '30 minutes' END,
        CASE WHEN i % 7 = 0 THEN 'bkg_' || lpad(i::text, 20, '0') END, CASE WHEN i % 29 = 0 THEN now() END
      FROM generate_series(1, 1500) AS i
      CROSS JOIN LATERAL (SELECT (?::text[])[1 + i % ?] AS model) AS n
      CROSS JOIN LATERAL (SELECT n.model, (?::jsonb ->> n.model) AS model_key, (?::jsonb ->> n.model) AS catalog_key) AS m`,
    [REGIONS, MODELS, MODELS.length, JSON.stringify(Object.fromEntries(MODELS.map((m) => [m, modelKey(m)]))),
      JSON.stringify(Object.fromEntries(MODELS.map((m) => [m, modelKeyOf(m)])))]);
  });

  it('answers every page of 250 random lists exactly as the registry does (JSON and cursor), or leaves it to the registry', async () => {
    const replica = replicaOf(db);
    try {
      await loaded(replica);
      assert.equal(replica.stats().gpus, 1500 - Math.floor(1500 / 29));
      const { pages, replica: answered } = await compare(db, replica, 250, 7);
      // A quarter of these GPUs have names or regions outside ASCII: model and region filters meeting them go to the registry.
      assert.ok(answered / pages > 0.25, `the replica answered ${answered} of ${pages} pages`);
    } finally {
      await replica.stop();
    }
  });

  it('follows every kind of write at the next list: new, changed, unregistered, rebooked and renamed GPUs', async () => {
    const replica = replicaOf(db, 7); // small pages: a pass of several pages
    try {
      await loaded(replica);
      await db.raw(`UPDATE gpus SET price_micro = price_micro + 50000 WHERE id::text LIKE '%3'`);
      await db.raw(`UPDATE gpus SET deleted_at = now() WHERE id::text LIKE '%17'`);
      await db.raw(`UPDATE gpus SET model = 'RTX 4090', model_key = 'rtx4090', catalog_key = 'rtx-4090' WHERE id::text LIKE '%21'`);
      await db.raw(`UPDATE gpus SET booking_expires = now() + interval '2 hours', current_booking_id = 'bkg_x' WHERE id::text LIKE '%5'`);
      await db.raw(`UPDATE gpus SET online = NOT online, average_rating = 4.5 WHERE id::text LIKE '%8'`);
      await db.raw(`DELETE FROM gpus WHERE id::text LIKE '%99'`);
      await db.raw(`
        INSERT INTO gpus (id, owner_id, miner_id, hw_key, model, model_key, catalog_key, memory_gb, region, price_micro, online, last_heartbeat_at)
        SELECT 'gpu_new' || lpad(i::text, 17, '0'), 'acme', 'rig1', 'new:' || i, 'RTX 3090', 'rtx3090', 'rtx-3090', 24, 'eu-west', 150000, true, now()
        FROM generate_series(1, 40) AS i`);
      const live = Number((await db('gpus').whereNull('deleted_at').count({ n: '*' }))[0].n);
      assert.ok(await replica.ready());
      assert.equal(replica.stats().gpus, live);
      await compare(db, replica, 120, 11);
    } finally {
      await replica.stop();
    }
  });

  it('misses no commit of a transaction that took its id before the pass and committed after it', async () => {
    const trx = await db.transaction();
    try {
      await trx.raw(`UPDATE gpus SET price_micro = 777000 WHERE id = 'gpu_00000000000000000001'`);
      await db.raw(`UPDATE gpus SET price_micro = 888000 WHERE id = 'gpu_00000000000000000002'`);
      const first = await listGpuChanges(db, ListGpuChangesRequest.fromPartial({ afterChange: '0', limit: 5000 }), new Date());
      const seen = (res: typeof first, id: string) => res.changes.find((c) => c.gpuId === id)?.gpu?.pricePerHourMicro;
      assert.equal(seen(first, 'gpu_00000000000000000002'), 888000);
      assert.notEqual(seen(first, 'gpu_00000000000000000001'), 777000, 'not committed yet');
      await trx.commit();
      const next = await listGpuChanges(db, ListGpuChangesRequest.fromPartial({ afterChange: first.watermark, limit: 5000 }), new Date());
      assert.equal(seen(next, 'gpu_00000000000000000001'), 777000, 'the next pass, from the first one\'s watermark, reads it');
    } finally {
      if (!trx.isCompleted()) await trx.rollback();
    }
  });

  it('is not held back by a transaction idle in another database (it cannot write these GPUs)', async () => {
    const other = await createTestDatabase();
    const idle = new pg.Client({ connectionString: other.url });
    await idle.connect();
    try {
      await idle.query('BEGIN');
      const held = BigInt((await idle.query('SELECT pg_current_xact_id()::text AS x')).rows[0].x);
      await db.raw(`UPDATE gpus SET price_micro = 999000 WHERE id = 'gpu_00000000000000000003'`);
      const page = await listGpuChanges(db, ListGpuChangesRequest.fromPartial({ afterChange: '0', limit: 5000 }), new Date());
      assert.ok(BigInt(page.watermark) > held, `watermark ${page.watermark} passed the idle ${held}`);
    } finally {
      await idle.query('ROLLBACK');
      await idle.end();
      await other.drop();
    }
  });

  it('cuts pages at about 1 MB, whatever their count (gRPC refuses messages past 4 MB)', async () => {
    await db.raw(`UPDATE gpus SET description = repeat('界', 2000), capabilities = array_fill(repeat('c', 64), ARRAY[32]) WHERE id::text LIKE '%1'`);
    let after = { change: '0', id: '' };
    let pages = 0;
    for (;;) {
      const res = await listGpuChanges(db, ListGpuChangesRequest.fromPartial({ afterChange: after.change, afterGpuId: after.id, limit: 5000 }), new Date());
      pages++;
      assert.ok(ListGpuChangesResponse.encode(res).finish().length < 2_000_000);
      if (!res.more) break;
      const last = res.changes[res.changes.length - 1];
      after = { change: last.change, id: last.gpuId };
    }
    assert.ok(pages > 1);
  });

  it('refuses a feed position that is not one', async () => {
    for (const [afterChange, field] of [['12; DROP', 'after_change'], ['-1', 'after_change'], ['1'.repeat(21), 'after_change']]) {
      await assert.rejects(listGpuChanges(db, ListGpuChangesRequest.fromPartial({ afterChange }), new Date()), (e: Error & { field?: string }) => e.message.includes(field));
    }
    await assert.rejects(listGpuChanges(db, ListGpuChangesRequest.fromPartial({ limit: 5001 }), new Date()), /limit/);
    await assert.rejects(listGpuChanges(db, ListGpuChangesRequest.fromPartial({ afterGpuId: 'x'.repeat(65) }), new Date()), /after_gpu_id/);
    for (const afterGpuId of ['gpu_\u0000x', 'gpu_\nx', 'gpu_ü']) {
      await assert.rejects(listGpuChanges(db, ListGpuChangesRequest.fromPartial({ afterGpuId }), new Date()), /after_gpu_id/);
    }
  });
});
