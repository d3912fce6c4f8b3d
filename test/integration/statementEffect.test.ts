import assert from 'node:assert/strict';
import { openDb, type Knex } from '../../lib/db';
import { eventTablesMigration } from '../../lib/events/eventTables';
import { createInboxConsumer } from '../../lib/events/inboxConsumer';
import { connectNatsBus } from '../../lib/events/natsBus';
import { createMemoryBus } from '../../lib/events/memoryBus';
import { applyInOneStatement } from '../../lib/events/statementEffect';
import { createLogger } from '../../lib/logger';
import { deleteStream, NATS_URL, testEvent, testPrefix, waitFor } from '../support/events';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const silent = createLogger('test', 'silent');

describe('events applied in one statement with their inbox row (PostgreSQL)', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let db: Knex;
  const bus = createMemoryBus();
  const delivery = (aggregate = 'gpu_a') => ({ envelope: testEvent(bus, aggregate).envelope, subject: 'aitbc.gpu.status_changed', deliveryCount: 1 });
  const count = async (table: string, where: Record<string, unknown> = {}) => Number((await db(table).where(where).count({ n: '*' }))[0].n);
  const statements = async (fn: () => Promise<unknown>) => {
    let n = 0;
    const listener = () => void n++;
    db.on('query', listener);
    try {
      await fn();
    } finally {
      db.off('query', listener);
    }
    return n;
  };

  before(async () => {
    database = await createTestDatabase();
    db = await openDb({ url: database.url, schema: 'statement_effects', migrations: [eventTablesMigration, {
      name: 'effects',
      up: async (k) => void (await k.raw(`CREATE TABLE effects (seq serial, event_id text NOT NULL UNIQUE, aggregate_id text NOT NULL);
        CREATE TABLE tallies (aggregate_id text PRIMARY KEY, n integer NOT NULL)`)),
    }] });
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
  });

  it('commits the effect with its inbox row in one statement, and an event seen before changes nothing', async () => {
    const d = delivery();
    const seen: unknown[][] = [];
    const plan = () => ({ effect: { query: db('effects').insert({ event_id: d.envelope.eventId, aggregate_id: 'gpu_a' }).returning('event_id'), after: (rows: unknown[]) => void seen.push(rows) } });
    assert.equal(await statements(async () => assert.equal(await applyInOneStatement(db, 'one', d, plan()), true)), 1, 'one round trip');
    assert.equal(await applyInOneStatement(db, 'one', d, plan()), false, 'seen before');
    assert.equal(await count('effects', { event_id: d.envelope.eventId }), 1);
    assert.equal(await count('inbox', { consumer: 'one', event_id: d.envelope.eventId }), 1);
    assert.deepEqual(seen, [[{ event_id: d.envelope.eventId }]], 'after() once, with the rows');
  });

  it('takes an effect with its own WITH list of changes, and one with no effect records the event alone', async () => {
    const d = delivery('gpu_w');
    const query = db.raw(`WITH ins AS (INSERT INTO effects (event_id, aggregate_id) VALUES (?, ?) RETURNING aggregate_id)
      INSERT INTO tallies (aggregate_id, n) SELECT aggregate_id, 1 FROM ins
      ON CONFLICT (aggregate_id) DO UPDATE SET n = tallies.n + 1 RETURNING n`, [d.envelope.eventId, 'gpu_w']);
    let rows: unknown[] = [];
    assert.equal(await applyInOneStatement(db, 'with', d, { effect: { query, after: (r) => void (rows = r) } }), true);
    assert.deepEqual(rows, [{ n: 1 }]);
    // No effect: the inbox row alone, in one statement, once.
    const bare = delivery();
    let committed = 0;
    assert.equal(await statements(async () => assert.equal(await applyInOneStatement(db, 'with', bare, { committed: () => void committed++ }), true)), 1);
    assert.equal(await applyInOneStatement(db, 'with', bare, { committed: () => void committed++ }), false);
    assert.equal(committed, 1);
    assert.equal(await count('inbox', { consumer: 'with', event_id: bare.envelope.eventId }), 1);
  });

  it('leaves no inbox row when the effect fails, and does not take the effect\'s own duplicate for a redelivery', async () => {
    const d = delivery();
    await assert.rejects(applyInOneStatement(db, 'fails', d, { effect: { query: db('effects').insert({ event_id: d.envelope.eventId, aggregate_id: null }) } }), /null value/);
    assert.equal(await count('inbox', { consumer: 'fails', event_id: d.envelope.eventId }), 0, 'retried later, not lost');
    await db('effects').insert({ event_id: 'taken', aggregate_id: 'x' });
    await assert.rejects(applyInOneStatement(db, 'fails', d, { effect: { query: db('effects').insert({ event_id: 'taken', aggregate_id: 'x' }) } }), /effects_event_id_key/);
    assert.equal(await count('inbox', { consumer: 'fails', event_id: d.envelope.eventId }), 0);
  });

  it('applies an event once when 20 replicas race to apply it (the inbox key decides)', async () => {
    const d = delivery('gpu_race');
    const query = () => db.raw('INSERT INTO tallies (aggregate_id, n) VALUES (?, 1) ON CONFLICT (aggregate_id) DO UPDATE SET n = tallies.n + 1', ['gpu_race']);
    const results = await Promise.all(Array.from({ length: 20 }, () => applyInOneStatement(db, 'race', d, { effect: { query: query() } })));
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal((await db('tallies').where({ aggregate_id: 'gpu_race' }).first()).n, 1);
  });

  it('applies a backlog once each and in order through a NATS consumer, beside events that need a transaction', async () => {
    const prefix = testPrefix();
    const nats = await connectNatsBus({ url: NATS_URL, prefix, name: 'statement-test', logger: silent });
    const durable = `s-${prefix}`;
    try {
      const events = Array.from({ length: 300 }, (_, i) => testEvent(nats, `gpu_${i % 5}`));
      await nats.publish(events.map((e) => e.outgoing));
      const insert = (k: Knex, id: string, aggregate: string) => k('effects').insert({ event_id: id, aggregate_id: aggregate });
      // Every third event takes the transaction path; each batch that holds one is one transaction.
      const inTransaction = (id: string) => events.findIndex((e) => e.envelope.eventId === id) % 3 === 0;
      const consumer = createInboxConsumer({
        db, bus: nats, logger: silent, durable, types: ['gpu.>'],
        statementOf: ({ envelope }) => (inTransaction(envelope.eventId) ? undefined : { effect: { query: insert(db, envelope.eventId, envelope.aggregateId) } }),
        apply: async (trx, { envelope }) => void (await insert(trx, envelope.eventId, envelope.aggregateId)),
      });
      await consumer.start();
      await waitFor(async () => consumer.applied() === 300, 20_000, 'the backlog');
      // Delivered again (a replay, each under a new message id): nothing changes. A fresh
      // event after them shows they have all been through.
      await nats.publish(events.slice(0, 30).map((e) => ({ ...e.outgoing, id: `${e.outgoing.id}-again` })));
      const last = testEvent(nats, 'gpu_last');
      await nats.publish([last.outgoing]);
      await waitFor(async () => consumer.applied() === 301, 20_000, 'the event after the replay');
      await consumer.stop();
      assert.equal(await count('dead_letters', { consumer: durable }), 0);
      const effects: { event_id: string }[] = await db('effects').whereIn('event_id', events.map((e) => e.envelope.eventId)).orderBy('seq');
      assert.deepEqual(effects.map((e) => e.event_id), events.map((e) => e.envelope.eventId), 'each once, in publish order');
      assert.equal(await count('inbox', { consumer: durable }), 301);
    } finally {
      await nats.close();
      await deleteStream(prefix);
    }
  });
});
