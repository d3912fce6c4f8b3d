import assert from 'node:assert/strict';
import type { Knex } from '../../lib/db';
import { createOutbox } from '../../lib/events/outbox';
import { createLogger } from '../../lib/logger';
import { createHeartbeatDeadlines } from '../../services/registry/src/heartbeatDeadlines';
import { createOfflineSweeper } from '../../services/registry/src/offlineSweeper';
import { registryStore } from '../../services/registry/src/store';
import { registrySuiteDb } from '../support/registryDatabase';

const id = (n: number) => `gpu_${String(n).padStart(20, '0')}`;

describe('offline sweeper (against PostgreSQL)', () => {
  let db: Knex;

  registrySuiteDb(async (made) => {
    db = made;
    await db.raw(`
      INSERT INTO gpus (id, owner_id, miner_id, hw_key, model, model_key, catalog_key, memory_gb, price_micro, online, last_heartbeat_at)
      SELECT 'gpu_' || lpad(i::text, 20, '0'), 'acme', 'rig', 'slot:' || i, 'RTX 4090', 'rtx4090', 'rtx-4090', 24, 100000, true, now()
      FROM generate_series(1, 3000) AS i`);
  });

  it('checks by id the GPUs whose beats it saw, and scans every GPU only once per TTL', async () => {
    const deadlines = createHeartbeatDeadlines();
    const statements: string[] = [];
    const note = (q: { sql: string }) => { if (/UPDATE gpus AS g SET online = false/.test(q.sql)) statements.push(q.sql); };
    db.on('query', note);
    const sweeper = createOfflineSweeper({ db, store: registryStore, outbox: createOutbox(), logger: createLogger('test', 'silent'), ttlSeconds: 1, intervalMs: 50, deadlines });
    // GPU 1 beat here and stops; GPU 2's beat reached another replica (the database has it, this memory not).
    await db('gpus').whereIn('id', [id(1), id(2), id(3)]).update({ last_heartbeat_at: db.raw('now()') });
    deadlines.note(id(1), Date.now());
    // GPU 3 keeps beating at this replica.
    const beating = setInterval(() => {
      deadlines.note(id(3), Date.now());
      // (a knex query runs only once something asks for its result)
      db('gpus').where({ id: id(3) }).update({ last_heartbeat_at: db.raw('now()') }).then(() => undefined, () => undefined);
    }, 200);
    sweeper.start();
    try {
      const offline = async (gpu: string) => !(await db('gpus').where({ id: gpu }).first()).online;
      const started = Date.now();
      while (!(await offline(id(1)))) await new Promise((r) => setTimeout(r, 25));
      const gpu1After = Date.now() - started;
      // By its id, within TTL + a slot + a run: before the next full scan (2 s).
      assert.ok(gpu1After < 2_000, `GPU 1 went offline after ${gpu1After} ms`);
      // GPU 2 waits for the full scan: at start (nothing old then) and once every 2 s (TTL 1 s, at least 2 s);
      // that scan also turns the 2,997 silent ones offline (their events included), which takes a while.
      while (!(await offline(id(2)))) await new Promise((r) => setTimeout(r, 25));
      const gpu2After = Date.now() - started;
      assert.ok(gpu2After >= 1_500 && gpu2After < 2_000 + 1_500, `GPU 2 went offline after ${gpu2After} ms`);
      assert.equal(await offline(id(3)), false, 'a beating GPU stays online');
      const byId = statements.filter((s) => s.includes('id = ANY('));
      const scans = statements.length - byId.length;
      assert.equal(scans, 2, `full scans: ${scans} of ${statements.length} runs`);
      assert.ok(byId.length >= 1);
      // The other 2,997 (silent from the start, and remembered by nobody) went with the second scan.
      const [{ n }] = await db('gpus').where({ online: true }).count({ n: '*' });
      assert.equal(Number(n), 1);
    } finally {
      clearInterval(beating);
      db.off('query', note);
      await sweeper.stop();
    }
  });

  it('checks again at the next run a GPU whose row another transaction held when it came due', async () => {
    const deadlines = createHeartbeatDeadlines();
    const sweeper = createOfflineSweeper({ db, store: registryStore, outbox: createOutbox(), logger: createLogger('test', 'silent'), ttlSeconds: 3, intervalMs: 100, deadlines });
    await db('gpus').where({ id: id(10) }).update({ online: true, last_heartbeat_at: db.raw('now()') });
    const started = Date.now();
    deadlines.note(id(10), started);
    sweeper.start();
    try {
      // Held from before it is due until the sweeper has tried it and the full scan at 3.1 s
      // has passed it by too (a projection or an offer write holding the row).
      await new Promise((r) => setTimeout(r, 2_500));
      let released = 0;
      await db.transaction(async (trx) => {
        await trx('gpus').where({ id: id(10) }).forUpdate().first();
        while (deadlines.size > 0 || Date.now() - started < 3_400) await new Promise((r) => setTimeout(r, 20));
        released = Date.now();
      });
      while ((await db('gpus').where({ id: id(10) }).first()).online) await new Promise((r) => setTimeout(r, 25));
      // Checked again at a next run, not left to the next full scan (6.1 s).
      const wait = Date.now() - released;
      assert.ok(wait < 1_000, `offline ${wait} ms after the row was free`);
    } finally {
      await sweeper.stop();
    }
  });

  it('announces a GPU that comes back by registering again (its stored liveness is read before the upsert)', async () => {
    const input = { id: id(20), ownerId: 'acme', minerId: 'rig', hwKey: 'slot:20', defaultPriceMicro: 100_000 };
    const spec = { model: 'RTX 4090', memoryGb: 24, priceMicro: 100_000 };
    await db('gpus').where({ id: id(20) }).update({ online: false });
    const again = await registryStore.upsertGpu(db, { ...input, id: 'gpu_unused00000000000000', spec });
    assert.deepEqual([again.created, again.wasOnline, again.row.online], [false, false, true]);
    assert.equal((await registryStore.upsertGpu(db, { ...input, spec })).wasOnline, true);
  });

  it('remembers each GPU at its latest beat and hands it out once (given back, it is due again)', () => {
    const deadlines = createHeartbeatDeadlines();
    deadlines.note('a', 1_000);
    deadlines.note('b', 5_000);
    deadlines.note('a', 500); // an older beat never moves a GPU back
    assert.deepEqual(deadlines.takeBefore(2_000), ['a']);
    assert.deepEqual(deadlines.takeBefore(2_000), []);
    deadlines.note('a', 0);
    assert.deepEqual(deadlines.takeBefore(2_000).sort(), ['a']);
    assert.equal(deadlines.size, 1);
  });
});
