import assert from 'node:assert/strict';
import { transactionRetryingDeadlocks, type Knex } from '../../lib/db';
import { GpuSort, GpuSpec, ListGpusRequest } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { modelKeyOf } from '../../lib/modelCatalogue';
import { modelKey } from '../../lib/modelCatalogue';
import { encodeCursor, planList, type ListPlan } from '../../lib/gpuListQuery';
import { listGpus, MODEL_NAMES_MAX } from '../../services/registry/src/listGpus';
import { registryStore } from '../../services/registry/src/store';
import { registerInventory } from '../../services/registry/src/registerInventory';
import { createOutbox } from '../../lib/events/outbox';
import { Role } from '../../lib/caller';
import { seededRandom } from '../../bench/listQueries';
import { registrySuiteDb } from '../support/registryDatabase';

const id = (n: number) => `gpu_${String(n).padStart(20, '0')}`;
// 40 names that all match "RTX*": more than one index walk per name would take.
const MANY = Array.from({ length: 40 }, (_, i) => `RTX Custom ${i}`);
const MODELS = ['RTX 4090', 'NVIDIA GeForce RTX 4090', 'RTX 3090', 'A100 80GB', 'H100 80GB', 'L40S', ...MANY];
const FILTERS = ['RTX 4090', '4090', 'rtx*', 'A100*', '*80GB', 'l40s', 'RTX Custom 7', 'nothing'];
const SORTS = [GpuSort.GPU_SORT_NEWEST, GpuSort.GPU_SORT_PRICE_ASC, GpuSort.GPU_SORT_PRICE_DESC, GpuSort.GPU_SORT_RATING_ASC,
  GpuSort.GPU_SORT_RATING_DESC, GpuSort.GPU_SORT_MEMORY_ASC, GpuSort.GPU_SORT_MEMORY_DESC];

/** Every page of a list, walked through its cursors. */
async function walk(db: Knex, req: Partial<ListGpusRequest>): Promise<string[]> {
  const ids: string[] = [];
  let cursor = '';
  for (;;) {
    const plan = planList(ListGpusRequest.fromPartial({ ...req, limit: 7, cursor }));
    const rows = await listGpus(db, plan);
    ids.push(...rows.slice(0, plan.limit).map((r) => r.id));
    if (rows.length <= plan.limit) return ids;
    const last = rows[plan.limit - 1];
    const column = plan.sort.column;
    const value = column === 'created_at' ? last.created_at.toISOString() : column === 'average_rating' ? Number(last.average_rating) : last[column];
    cursor = encodeCursor(plan.sort, value, last.id);
  }
}

/** What the list must answer, by the old rule: every filter checked on every row. */
async function reference(db: Knex, plan: ListPlan): Promise<string[]> {
  const q = db('gpus').whereNull('deleted_at');
  if (plan.model) {
    const { namePattern, keyPattern, catalogKey } = plan.model;
    q.where((b) => {
      b.whereRaw('model ILIKE ?', [namePattern]);
      if (keyPattern) b.orWhereRaw('model_key LIKE ?', [keyPattern]);
      if (catalogKey) b.orWhere('catalog_key', catalogKey);
    });
  }
  if (plan.status === 'available') q.where('online', true);
  if (plan.memoryMin !== undefined) q.where('memory_gb', '>=', plan.memoryMin);
  if (plan.priceMax !== undefined) q.where('price_micro', '<=', plan.priceMax);
  if (plan.region) q.whereRaw('lower(region) = lower(?)', [plan.region]);
  if (plan.ownerId) q.where('owner_id', plan.ownerId);
  if (plan.minRating !== undefined) q.where('average_rating', '>=', plan.minRating);
  const order = plan.sort.descending ? 'desc' : 'asc';
  const rows: { id: string }[] = await q.select('id').orderBy([{ column: plan.sort.column, order }, { column: 'id', order }]);
  return rows.map((r) => r.id);
}

describe('GPU list search (registry store against PostgreSQL)', () => {
  let db: Knex;

  registrySuiteDb(async (made) => {
    db = made;
    // Ties on purpose (few prices, ratings and sizes): the id must break them.
    await db.raw(`
      INSERT INTO gpus (id, owner_id, miner_id, hw_key, model, model_key, catalog_key, memory_gb, region, price_micro, online,
        last_heartbeat_at, average_rating, created_at)
      SELECT 'gpu_' || lpad(i::text, 20, '0'), 'acme', 'rig', 'slot:' || i, m.model, m.model_key, m.catalog_key,
        (ARRAY[24, 48, 80])[1 + i % 3], (ARRAY['eu-west', 'US-East', 'ap-south'])[1 + i % 4 % 3], 100000 * (1 + i % 10),
        i % 6 <> 0, now(), (i % 11) / 2.0, date_trunc('milliseconds', now()) - (i % 53 || ' seconds')::interval
      FROM generate_series(1, 2400) AS i
      CROSS JOIN LATERAL (SELECT (?::text[])[1 + i % ?] AS model) AS n
      CROSS JOIN LATERAL (SELECT n.model, (?::jsonb ->> n.model) AS model_key, (?::jsonb ->> n.model) AS catalog_key) AS m`,
    [MODELS, MODELS.length, JSON.stringify(Object.fromEntries(MODELS.map((m) => [m, modelKey(m)]))),
      JSON.stringify(Object.fromEntries(MODELS.map((m) => [m, modelKeyOf(m)])))]);
    await db.raw('ANALYZE gpus');
  });

  it('answers every filter and sort exactly as checking each row would, page after page', async () => {
    const random = seededRandom(7);
    const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
    for (let n = 0; n < 120; n++) {
      const req: Partial<ListGpusRequest> = { sort: pick(SORTS), model: pick(FILTERS) };
      if (random() < 0.5) req.available = true;
      if (random() < 0.5) req.memoryMin = pick([24, 40, 48, 80]);
      if (random() < 0.4) req.priceMaxMicro = pick([300_000, 500_000, 800_000]);
      if (random() < 0.3) req.region = pick(['us-east', 'EU-WEST']);
      if (random() < 0.3) req.minRating = pick([1, 3, 4.5]);
      const plan = planList(ListGpusRequest.fromPartial({ ...req, limit: 7 }));
      assert.deepEqual(await walk(db, req), await reference(db, plan), JSON.stringify(req));
    }
  });

  it('answers a filter naming many models (40, and more than MODEL_NAMES_MAX) the same way', async () => {
    const req = { sort: GpuSort.GPU_SORT_PRICE_ASC, model: 'RTX*', memoryMin: 48 };
    const ids = await walk(db, req);
    assert.ok(ids.length > 100);
    assert.deepEqual(ids, await reference(db, planList(ListGpusRequest.fromPartial({ ...req, limit: 7 }))));
    // One GPU each under more names than are walked one by one: checked row by row instead.
    await db.raw(`
      INSERT INTO gpus (id, owner_id, miner_id, hw_key, model, model_key, catalog_key, memory_gb, price_micro, online, last_heartbeat_at)
      SELECT 'gpu_' || lpad((700000 + i)::text, 20, '0'), 'acme', 'many', 'm:' || i, 'Many ' || i, 'many' || i, 'many-' || i, 48, 100000 + i, true, now()
      FROM generate_series(1, ?::int) AS i`, [MODEL_NAMES_MAX + 1]);
    const many = { sort: GpuSort.GPU_SORT_RATING_DESC, model: 'many*' };
    const listed = await walk(db, many);
    assert.equal(listed.length, MODEL_NAMES_MAX + 1);
    assert.deepEqual(listed, await reference(db, planList(ListGpusRequest.fromPartial({ ...many, limit: 7 }))));
    await db('gpus').where({ miner_id: 'many' }).del();
  });

  it('finds a GPU of a model name never seen before, its new memory and its going, at the next read', async () => {
    const spec = { model: 'Zeta Accelerator 9000', memoryGb: 16, priceMicro: 100_000 };
    const input = { id: 'gpu_zeta0000000000000000', ownerId: 'acme', minerId: 'rig-z', hwKey: 'slot:z', defaultPriceMicro: 100_000 };
    await registryStore.upsertGpu(db, { ...input, spec });
    const list = (model: string, memoryMin?: number) =>
      listGpus(db, planList(ListGpusRequest.fromPartial({ model, memoryMin }))).then((rows) => rows.map((r) => r.id));
    assert.deepEqual(await list('zeta*'), ['gpu_zeta0000000000000000']);
    assert.deepEqual(await list('Zeta Accelerator 9000', 64), []);
    // Re-registered with more memory (an update, not an insert): memory_min must find it now.
    await registryStore.upsertGpu(db, { ...input, spec: { ...spec, memoryGb: 96 } });
    assert.deepEqual(await list('Zeta Accelerator 9000', 64), ['gpu_zeta0000000000000000']);
    assert.deepEqual(await list('zeta*', 97), []);
    // Gone: neither its name nor its memory keeps a filter from dropping the name any more.
    await registryStore.deleteGpu(db, input.id);
    assert.deepEqual(await db('gpu_model_counts').where('model', spec.model), []);
  });

  it('keeps the model counts exactly what the live GPUs say, through every kind of write', async () => {
    const input = (n: number) => ({ id: id(900_000 + n), ownerId: 'acme', minerId: 'rig-c', hwKey: `c:${n}`, defaultPriceMicro: 100_000 });
    const spec = (model: string, memoryGb: number) => ({ model, memoryGb, priceMicro: 100_000 });
    for (let n = 0; n < 6; n++) await registryStore.upsertGpu(db, { ...input(n), spec: spec(n % 2 ? 'Count A' : 'Count B', 24) });
    await registryStore.upsertGpu(db, { ...input(1), spec: spec('Count C', 24) }); // renamed
    await registryStore.upsertGpu(db, { ...input(2), spec: spec('Count B', 80) }); // more memory
    await registryStore.deleteGpu(db, id(900_003)); // unregistered
    await db('gpus').where({ id: id(900_004) }).del(); // gone from the table
    // 200 GB under a popular name, then gone: the name must be dropped for 81 GB again (when
    // it was not, every such list walked all 4090s).
    await registryStore.upsertGpu(db, { ...input(7), spec: spec('RTX 4090', 200) });
    await registryStore.deleteGpu(db, id(900_007));
    const counted = await db('gpu_model_counts').select('model', 'model_key', 'catalog_key', 'memory_gb', 'gpus').orderBy(['model', 'model_key', 'catalog_key', 'memory_gb']);
    const truth = await db('gpus').whereNull('deleted_at').select('model', 'model_key', 'catalog_key', 'memory_gb').count({ gpus: '*' })
      .groupBy('model', 'model_key', 'catalog_key', 'memory_gb').orderBy(['model', 'model_key', 'catalog_key', 'memory_gb']);
    assert.deepEqual(counted, truth.map((r) => ({ ...r, gpus: Number(r.gpus) })));
    assert.deepEqual(await db('gpu_model_counts').where('memory_gb', '>', 80), []);
  });

  it('counts GPUs of one model registered and unregistered all at once exactly (no count below zero)', async () => {
    const input = (n: number) => ({ id: id(950_000 + n), ownerId: 'acme', minerId: `rig-r${n}`, hwKey: 'r', defaultPriceMicro: 100_000 });
    const spec = { model: 'Race Count', memoryGb: 24, priceMicro: 100_000 };
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 30 }, (_, n) => db.transaction((trx) => registryStore.upsertGpu(trx, { ...input(n), id: id(950_000 + round * 100 + n), spec }))));
      const live = await db('gpus').where({ model: spec.model }).whereNull('deleted_at').pluck('id');
      // Each unregister its own transaction, all together: two decrements once both read 2.
      await Promise.all(live.map((gpu: string) => db.transaction((trx) => registryStore.deleteGpu(trx, gpu))));
      assert.deepEqual(await db('gpu_model_counts').where('model', spec.model), [], `round ${round}`);
    }
  });

  it('retries a write that a deadlock on the model counts rolled back (opposite-order unregisters)', async () => {
    const input = (n: number, model: string) => ({ id: id(960_000 + n), ownerId: 'acme', minerId: `rig-d${n}`, hwKey: 'd', defaultPriceMicro: 1, spec: { model, memoryGb: 8, priceMicro: 1 } });
    for (const [n, model] of [[1, 'Alpha'], [2, 'Zed'], [3, 'Alpha'], [4, 'Zed'], [5, 'Alpha'], [6, 'Zed']] as const) await registryStore.upsertGpu(db, input(n, model));
    const pause = () => new Promise((r) => setTimeout(r, 150));
    const unregister = (first: number, second: number) => async (trx: Knex.Transaction) => {
      await registryStore.deleteGpu(trx, id(960_000 + first));
      await pause();
      await registryStore.deleteGpu(trx, id(960_000 + second));
    };
    // Plainly, one of the two is the deadlock's victim…
    const plain = await Promise.allSettled([db.transaction(unregister(2, 1)), db.transaction(unregister(3, 4))]);
    assert.deepEqual(plain.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as { code?: string }).code), ['40P01']);
    // …retried, both land.
    await Promise.all([transactionRetryingDeadlocks(db, unregister(6, 5)), transactionRetryingDeadlocks(db, unregister(3, 4))]);
    assert.deepEqual(await db('gpu_model_counts').whereIn('model', ['Alpha', 'Zed']).orderBy('model').pluck('gpus'),
      (await db('gpus').whereIn('model', ['Alpha', 'Zed']).whereNull('deleted_at').select('model').count({ n: '*' }).groupBy('model').orderBy('model')).map((r) => Number(r.n)));
    for (const g of [3, 4, 5, 6]) assert.equal((await db('gpus').where({ id: id(960_000 + g) }).first()).deleted_at !== null, true, `GPU ${g} unregistered`);
  });

  it('registers inventories of the same new models concurrently, in any order, without a deadlock', async () => {
    const outbox = createOutbox();
    const deps = { db, store: registryStore, outbox, defaultPriceMicro: 100_000, liveness: { registered() {} } };
    for (let round = 0; round < 8; round++) {
      const gpu = (model: string, uuid: string) => GpuSpec.fromPartial({ model, memoryGb: 24, pricePerHourMicro: 100_000, uuid });
      const [a, b] = [`Race A ${round}`, `Race B ${round}`];
      const results = await Promise.allSettled(Array.from({ length: 4 }, (_, w) => registerInventory(deps, { accountId: `acct${w % 2}`, role: Role.ROLE_PROVIDER },
        `race-${round}-${w}`, w % 2 ? [gpu(a, `U-${round}-${w}-1`), gpu(b, `U-${round}-${w}-2`)] : [gpu(b, `U-${round}-${w}-1`), gpu(a, `U-${round}-${w}-2`)], 'gpus')));
      const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
      assert.deepEqual(failed, [], `round ${round}`);
      assert.deepEqual(results.map((r) => (r as PromiseFulfilledResult<{ model: string }[]>).value.map((g) => g.model)),
        [[b, a], [a, b], [b, a], [a, b]], 'answered in the order given');
    }
  });

  it("lists an owner's GPUs as the row check does, newest first through the owner's own index", async () => {
    await db.raw(`
      INSERT INTO gpus (id, owner_id, miner_id, hw_key, model, model_key, catalog_key, memory_gb, price_micro, online, last_heartbeat_at, created_at)
      SELECT 'gpu_' || lpad((800000 + i)::text, 20, '0'), 'beta', 'rig-b', 'b:' || i, 'RTX 4090', 'rtx4090', 'rtx-4090', 24, 100000 * (1 + i % 7),
        i % 2 = 0, now(), now() - (i || ' seconds')::interval
      FROM generate_series(1, 300) AS i`);
    await db.raw('ANALYZE gpus');
    try {
      for (const sort of SORTS) {
        for (const extra of [{}, { available: true }]) {
          const req = { sort, ownerId: 'beta', ...extra };
          const ids = await walk(db, req);
          assert.deepEqual(ids, await reference(db, planList(ListGpusRequest.fromPartial({ ...req, limit: 7 }))), JSON.stringify(req));
          assert.equal(ids.length, 'available' in extra ? 150 : 300);
          if (sort !== GpuSort.GPU_SORT_NEWEST) continue;
          let read = 0;
          for (const sql of await statements(db, planList(ListGpusRequest.fromPartial({ ...req, limit: 20 })))) {
            const { rows } = await db.raw(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql.sql}`, sql.bindings);
            read += rowsRead(rows[0]['QUERY PLAN'][0].Plan);
          }
          // Newest first (the console's fleet) walks the owner's own index and stops after the
          // page; without it, the owner's 300 GPUs or acme's 2,400 would be read for each page.
          assert.ok(read <= 50, `${JSON.stringify(req)} read ${read} GPU rows`);
        }
      }
    } finally {
      await db('gpus').where({ owner_id: 'beta' }).del();
    }
  });

  it('reads few rows for each sort with its most selective filters, even when nothing matches', async () => {
    const cases: Partial<ListGpusRequest>[] = [];
    for (const sort of SORTS) {
      cases.push({ sort }, { sort, available: true }, { sort, model: '4090', memoryMin: 48 }, { sort, model: 'A100*', region: 'us-east' },
        { sort, priceMinMicro: 800_000, priceMaxMicro: 900_000 }, { sort, minRating: 5 }, { sort, memoryMin: 80, available: true });
    }
    for (const req of cases) {
      let read = 0;
      for (const sql of await statements(db, planList(ListGpusRequest.fromPartial(req)))) {
        const { rows } = await db.raw(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql.sql}`, sql.bindings);
        read += rowsRead(rows[0]['QUERY PLAN'][0].Plan);
      }
      // The old plan walked a sort index past every GPU of the other models (2,400 here).
      assert.ok(read <= 300, `${JSON.stringify(req)} read ${read} GPU rows`);
    }
  });
});

interface PlanNode { 'Relation Name'?: string; 'Actual Rows': number; 'Actual Loops': number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] }

/** GPU rows a plan read: what its scans of `gpus` returned and what their filters threw away. */
function rowsRead(node: PlanNode): number {
  const own = node['Relation Name'] === 'gpus' ? (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsRead(child), 0);
}

/** The statements one list runs (as knex sent them), for EXPLAIN. */
async function statements(db: Knex, plan: ListPlan): Promise<{ sql: string; bindings: Knex.RawBinding[] }[]> {
  const seen: { sql: string; bindings: Knex.RawBinding[] }[] = [];
  // knex reports the native SQL ($1, $2); raw() wants its own placeholders back.
  const note = (q: { sql: string; bindings: Knex.RawBinding[] }) => seen.push({ sql: q.sql.replace(/\$\d+/g, '?'), bindings: q.bindings });
  db.on('query', note);
  try {
    await listGpus(db, plan);
  } finally {
    db.off('query', note);
  }
  return seen;
}
