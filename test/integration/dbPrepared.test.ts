import assert from 'node:assert/strict';
import { connectDb, type Knex } from '../../lib/db';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

/** What the one connection of a one-connection pool has prepared, by statement text. */
async function prepared(db: Knex): Promise<string[]> {
  const { rows } = await db.raw('SELECT statement FROM pg_prepared_statements ORDER BY prepare_time');
  return (rows as { statement: string }[]).map((r) => r.statement);
}

describe('prepared statements (lib/dbPrepared)', () => {
  let database: TestDatabase;
  let db: Knex;
  let other: Knex;

  before(async () => {
    database = await createTestDatabase();
    db = connectDb({ url: database.url, schema: 'public', poolMax: 1 });
    other = connectDb({ url: database.url, schema: 'public', poolMax: 1 });
    await db.raw('CREATE TABLE things (id int PRIMARY KEY, name text NOT NULL)');
    await db('things').insert([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
  });
  after(async () => {
    await db?.destroy();
    await other?.destroy();
    await database?.drop();
  });

  it('prepares a statement with parameters from its third run on, and runs it by name after', async () => {
    const find = (id: number) => db('things').where({ id }).first();
    assert.deepEqual(await find(1), { id: 1, name: 'one' });
    assert.deepEqual(await find(2), { id: 2, name: 'two' });
    assert.equal(((await prepared(db)).filter((s) => s.includes('"things"'))).length, 0);
    for (let i = 0; i < 5; i++) assert.equal((await find(1 + (i % 2)))!.id, 1 + (i % 2));
    assert.equal(((await prepared(db)).filter((s) => s.includes('"things"'))).length, 1);
    assert.equal(await find(3), undefined);
  });

  it('leaves statements without parameters to the simple protocol (several statements in one text still run)', async () => {
    for (let i = 0; i < 5; i++) {
      const results = await db.raw('SELECT 1 AS a; SELECT 2 AS b') as unknown as { rows: Record<string, number>[] }[];
      assert.deepEqual(results.map((r) => r.rows[0]), [{ a: 1 }, { b: 2 }]);
    }
    assert.equal(((await prepared(db)).filter((s) => s.includes('SELECT 2'))).length, 0);
  });

  it('survives a migration that changes the rows a prepared statement returns', async () => {
    const all = (min: number) => db('things').where('id', '>=', min).orderBy('id');
    for (let i = 0; i < 4; i++) await all(1);
    assert.equal((await prepared(db)).some((s) => s.includes('>=')), true);
    // Another process (a replica's migration) adds a column: the plan's row type is stale.
    await other.raw("ALTER TABLE things ADD COLUMN colour text NOT NULL DEFAULT 'red'");
    assert.deepEqual(await all(2), [{ id: 2, name: 'two', colour: 'red' }]);
    // Inside a transaction the stale plan aborts it (nothing can run again there); after
    // it, the text runs unnamed, then is prepared afresh.
    for (let i = 0; i < 4; i++) await all(1);
    await other.raw('ALTER TABLE things ADD COLUMN size int NOT NULL DEFAULT 7');
    const err = await db.transaction((trx) => trx('things').where('id', '>=', 2).orderBy('id')).then(() => undefined, (e: { code?: string }) => e);
    assert.equal(err?.code, '0A000');
    for (let i = 0; i < 4; i++) assert.deepEqual(await all(2), [{ id: 2, name: 'two', colour: 'red', size: 7 }]);
    assert.equal((await db.transaction((trx) => trx('things').where('id', '>=', 2).orderBy('id'))).length, 1);
  });

  it('keeps a statement that fails as it was (a unique violation stays 23505 and changes nothing)', async () => {
    const add = () => db('things').insert({ id: 1, name: 'again' });
    for (let i = 0; i < 4; i++) {
      const err = await add().then(() => undefined, (e: { code?: string }) => e);
      assert.equal(err?.code, '23505');
    }
    assert.equal((await db('things').where({ id: 1 }).first())?.name, 'one');
  });
});
