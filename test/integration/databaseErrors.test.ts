import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import pino from 'pino';
import { connectDb, type Knex, openDb } from '../../lib/db';
import { fromDatabaseError, toGrpcError } from '../../lib/errors';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/** What real PostgreSQL failures become for a caller: a status to act on, never a hang. */
describe('database deadlines and failures', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let db: Knex;

  before(async () => {
    database = await createTestDatabase();
    db = await openDb({
      url: database.url, schema: 'deadlines', statementTimeoutMs: 300, logger: pino({ level: 'silent' }),
      migrations: [{
        name: '001_rows',
        async up(trx) {
          await trx.schema.createTable('rows', (t) => {
            t.integer('id').primary();
            t.integer('n').notNullable();
          });
          // Migrations run without the statement deadline.
          await trx.raw('SELECT pg_sleep(0.5)');
        },
      }],
    });
    await db('rows').insert([{ id: 1, n: 0 }, { id: 2, n: 0 }]);
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('cancels a statement past its deadline, lock waits included, as UNAVAILABLE', async () => {
    // Without the deadline this sleep would simply succeed.
    const slow = await db.raw('SELECT pg_sleep(3)').then(() => undefined, (err: unknown) => err);
    assert.equal((slow as { code?: string }).code, '57014', 'cancelled by the statement deadline');
    assert.equal(toGrpcError(slow).code, status.UNAVAILABLE);
    assert.match(fromDatabaseError(slow)!.message, /did not answer in time; nothing was changed/);

    // A write stuck behind another transaction's lock gives up too, and changes nothing.
    const holder = await db.transaction();
    try {
      await holder('rows').where({ id: 1 }).forUpdate();
      const blocked = await db('rows').where({ id: 1 }).update({ n: 1 }).then(() => undefined, (err: unknown) => err);
      assert.equal(toGrpcError(blocked).code, status.UNAVAILABLE);
    } finally {
      await holder.rollback();
    }
    assert.equal((await db('rows').where({ id: 1 }).first()).n, 0);
    await db('rows').where({ id: 1 }).update({ n: 1 });
    assert.equal((await db('rows').where({ id: 1 }).first()).n, 1, 'works again once the lock is gone');
  });

  it('answers a deadlock with ABORTED (retry), the other transaction going through', async () => {
    const a = await db.transaction();
    const b = await db.transaction();
    await a('rows').where({ id: 1 }).update({ n: 10 });
    await b('rows').where({ id: 2 }).update({ n: 20 });
    // Each now wants the other's row; PostgreSQL breaks the cycle (deadlock_timeout 1 s is
    // past the 300 ms deadline, so raise it for these two sessions' waits).
    const outcomes = await Promise.all([
      a.raw('SET LOCAL statement_timeout = 5000').then(() => a('rows').where({ id: 2 }).update({ n: 10 })).then(() => 'ok', (err: unknown) => err),
      b.raw('SET LOCAL statement_timeout = 5000').then(() => b('rows').where({ id: 1 }).update({ n: 20 })).then(() => 'ok', (err: unknown) => err),
    ]);
    const failed = outcomes.filter((o) => o !== 'ok');
    assert.equal(failed.length, 1, 'exactly one side is chosen as the victim');
    assert.equal(toGrpcError(failed[0]).code, status.ABORTED);
    await Promise.all([a.isCompleted() ? undefined : a.rollback().catch(() => undefined), b.isCompleted() ? undefined : b.rollback().catch(() => undefined)]);
  });

  it('answers an unreachable database with UNAVAILABLE, logging it as a JSON line', async () => {
    const url = new URL(database.url);
    url.port = '1';
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ base: { service: 'test' } }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const gone = connectDb({ url: url.toString(), schema: 'deadlines', statementTimeoutMs: 300, logger });
    try {
      const err = await gone.raw('SELECT 1').then(() => undefined, (e: unknown) => e);
      assert.ok(err, 'the query fails');
      assert.equal(toGrpcError(err).code, status.UNAVAILABLE);
      assert.ok(lines.some((l) => l.component === 'knex' && l.service === 'test' && /ECONNREFUSED/.test(String(l.msg))), JSON.stringify(lines));
    } finally {
      await gone.destroy();
    }
  });

  it('answers a connection lost mid-statement with UNAVAILABLE, promising nothing about what landed', async () => {
    const trx = await db.transaction();
    const { rows: [{ pid }] } = await trx.raw('SELECT pg_backend_pid() AS pid');
    const sleeping = trx.raw('SELECT pg_sleep(0.25)').then(() => undefined, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    await db.raw('SELECT pg_terminate_backend(?)', [pid]);
    const err = await sleeping;
    await trx.rollback().catch(() => undefined);
    assert.equal(toGrpcError(err).code, status.UNAVAILABLE);
    assert.equal(fromDatabaseError(err)!.message, 'the connection to the database was lost; retry shortly');
    assert.equal((await db.raw('SELECT 1 AS one')).rows[0].one, 1, 'the pool goes on with a new connection');
  });

  it('leaves errors that are bugs to INTERNAL, without their text', async () => {
    const err = await db.raw('SELECT no_such_column FROM rows').then(() => undefined, (e: unknown) => e);
    assert.equal(fromDatabaseError(err), undefined);
    assert.deepEqual(toGrpcError(err), { code: status.INTERNAL, details: 'internal error' });
  });
});
