import assert from 'node:assert/strict';
import { openDb, type Knex } from '../../lib/db';
import type { EventBus } from '../../lib/events/bus';
import { eventTablesMigration } from '../../lib/events/eventTables';
import { applyBatchOnce, createInboxConsumer, INBOX_RETENTION_MS, pruneInbox } from '../../lib/events/inboxConsumer';
import { createMemoryBus } from '../../lib/events/memoryBus';
import { createOutbox } from '../../lib/events/outbox';
import { createOutboxRelay } from '../../lib/events/outboxRelay';
import { connectNatsBus } from '../../lib/events/natsBus';
import { createLogger } from '../../lib/logger';
import { deleteStream, NATS_URL, testEvent, testPrefix, waitFor } from '../support/events';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const silent = createLogger('test', 'silent');

describe('inbox consumers against PostgreSQL', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let db: Knex;

  before(async () => {
    database = await createTestDatabase();
    db = await openDb({ url: database.url, schema: 'inbox_test', migrations: [eventTablesMigration, {
      name: 'effects', up: async (k) => void (await k.raw('CREATE TABLE effects (seq serial, event_id text NOT NULL, aggregate_id text NOT NULL)')),
    }] });
  });
  after(async () => {
    await db?.destroy();
    await database?.drop();
  });

  for (const [name, open] of [
    ['NATS (batched)', (prefix: string) => connectNatsBus({ url: NATS_URL, prefix, name: 'inbox-test', logger: silent })],
    ['in-process', async (prefix: string) => createMemoryBus({ prefix })],
  ] as [string, (prefix: string) => Promise<EventBus>][]) {
    it(`applies a backlog once each and in order, dead-letters a poison event and moves on (${name})`, async () => {
      const prefix = testPrefix();
      const bus = await open(prefix);
      const durable = `c-${prefix}`;
      try {
        const events = Array.from({ length: 300 }, (_, i) => testEvent(bus, `gpu_${i % 7}`, i === 150 ? 'poison' : ''));
        await bus.publish(events.map((e) => e.outgoing));
        const consumer = createInboxConsumer({
          db, bus, logger: silent, durable, types: ['gpu.>'], maxDeliver: 2, retryDelayMs: 10,
          apply: async (trx, d) => {
            if (d.envelope.eventId === events[150].envelope.eventId) throw new Error('poison');
            await trx('effects').insert({ event_id: d.envelope.eventId, aggregate_id: d.envelope.aggregateId });
          },
        });
        await consumer.start();
        await waitFor(async () => Number((await db('dead_letters').where({ consumer: durable }).count({ n: '*' }))[0].n) === 1
          && consumer.applied() === 299, 20_000, 'the backlog');
        await consumer.stop();
        const effects: { event_id: string }[] = await db('effects').whereIn('event_id', events.map((e) => e.envelope.eventId)).orderBy('seq');
        const expected = events.filter((_, i) => i !== 150).map((e) => e.envelope.eventId);
        assert.deepEqual(effects.map((e) => e.event_id), expected, 'each once, in publish order');
        const dead = await db('dead_letters').where({ consumer: durable }).first();
        assert.equal(dead.event_id, events[150].envelope.eventId);
        assert.equal(dead.deliveries, 2);
        assert.equal(dead.error, 'poison');
      } finally {
        await bus.close();
        if (bus.kind === 'nats') await deleteStream(prefix);
      }
    });
  }

  it('forgets event ids only once no replay can bring them back, in short statements, one consumer at a time', async () => {
    const now = Date.now();
    const old = new Date(now - INBOX_RETENTION_MS - 60_000);
    const recent = new Date(now - INBOX_RETENTION_MS + 3600_000);
    await db.raw(`INSERT INTO inbox (consumer, event_id, processed_at)
      SELECT 'prune-a', 'evt_old_' || i, ? FROM generate_series(1, 25000) i`, [old]);
    await db('inbox').insert([
      ...Array.from({ length: 5 }, (_, i) => ({ consumer: 'prune-a', event_id: `evt_recent_${i}`, processed_at: recent })),
      ...Array.from({ length: 5 }, (_, i) => ({ consumer: 'prune-b', event_id: `evt_old_${i}`, processed_at: old })),
    ]);
    assert.equal(await pruneInbox(db, 'prune-a', new Date(now - INBOX_RETENTION_MS)), 25_000);
    const left = await db('inbox').whereIn('consumer', ['prune-a', 'prune-b']).select('consumer', 'event_id').orderBy(['consumer', 'event_id']);
    assert.deepEqual(left.map((r: { consumer: string; event_id: string }) => `${r.consumer}/${r.event_id}`), [
      ...Array.from({ length: 5 }, (_, i) => `prune-a/evt_recent_${i}`),
      ...Array.from({ length: 5 }, (_, i) => `prune-b/evt_old_${i}`),
    ]);

    // A running consumer prunes its own inbox on its own.
    const bus = createMemoryBus({ prefix: testPrefix() });
    const consumer = createInboxConsumer({ db, bus, logger: silent, durable: 'prune-b', types: ['gpu.>'], pruneIntervalMs: 50, apply: async () => undefined });
    await consumer.start();
    try {
      await waitFor(async () => (await db('inbox').where({ consumer: 'prune-b' })).length === 0, 5000, 'pruned by the consumer');
      assert.equal((await db('inbox').where({ consumer: 'prune-a' })).length, 5, "another consumer's ids stay");
    } finally {
      await consumer.stop();
      await bus.close();
    }
  });

  it('on the in-process bus, events published just before a restart reach the consumers that missed them, once', async () => {
    const bus = createMemoryBus({ prefix: testPrefix() });
    const durable = 'restart-consumer';
    // Published by the previous process: one a minute ago that this consumer never got, one
    // a minute ago that it did apply, and one from long ago.
    const [missed, applied, old] = ['gpu_missed', 'gpu_applied', 'gpu_old'].map((id) => testEvent(bus, id));
    const row = (e: typeof missed, publishedAgoMs: number) => ({
      event_id: e.envelope.eventId, type: e.envelope.type, aggregate_id: e.envelope.aggregateId,
      envelope: Buffer.from(e.outgoing.data), published_at: new Date(Date.now() - publishedAgoMs),
    });
    await db('outbox').insert([row(old, 3600_000), row(missed, 60_000), row(applied, 60_000)]);
    await db('inbox').insert({ consumer: durable, event_id: applied.envelope.eventId });
    const seen: string[] = [];
    const consumer = createInboxConsumer({
      db, bus, logger: silent, durable, types: ['gpu.>'], apply: async (_trx, d) => void seen.push(d.envelope.aggregateId),
    });
    const relay = createOutboxRelay({ db, outbox: createOutbox(), schema: 'inbox_test', bus, logger: silent });
    relay.start();
    await consumer.start();
    try {
      await waitFor(() => seen.includes('gpu_missed'), 5000, 'the missed event');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seen, ['gpu_missed'], 'the missed one once; the applied one not again; the old one not replayed');
    } finally {
      await relay.stop();
      await consumer.stop();
      await bus.close();
      await db('outbox').whereIn('event_id', [missed, applied, old].map((e) => e.envelope.eventId)).del();
    }
  });

  it('applies a batch in its batchOrder key order, stably, so opposite batches wait instead of deadlocking', async () => {
    await db.raw('CREATE TABLE IF NOT EXISTS lock_rows (id text PRIMARY KEY, n int NOT NULL)');
    await db('lock_rows').insert([{ id: 'gpu_a', n: 0 }, { id: 'gpu_b', n: 0 }]).onConflict('id').merge();
    const bus = createMemoryBus();
    const delivery = (gpu: string) => ({ envelope: testEvent(bus, gpu).envelope, subject: 'aitbc.gpu.status_changed', deliveryCount: 1 });
    // Each effect locks its GPU's row and lingers, so two batches overlap for certain.
    const apply = async (trx: Knex, d: { envelope: { aggregateId: string } }) => {
      await trx('lock_rows').where({ id: d.envelope.aggregateId }).increment('n', 1);
      await new Promise((r) => setTimeout(r, 150));
    };
    const race = (order?: (d: { envelope: { aggregateId: string } }) => string) => Promise.allSettled([
      applyBatchOnce(db, 'order-a', [delivery('gpu_a'), delivery('gpu_b')], apply, order as never),
      applyBatchOnce(db, 'order-b', [delivery('gpu_b'), delivery('gpu_a')], apply, order as never),
    ]);
    const unordered = await race();
    assert.ok(unordered.some((r) => r.status === 'rejected' && /deadlock/.test(String(r.reason))), 'without an order, one batch is a deadlock victim');
    const ordered = await race((d) => d.envelope.aggregateId);
    assert.deepEqual(ordered.map((r) => r.status), ['fulfilled', 'fulfilled'], JSON.stringify(ordered));
    // Sorted by key, and one key's events keep their order.
    const seen: string[] = [];
    const [a1, b1, a2] = [delivery('gpu_a'), delivery('gpu_b'), delivery('gpu_a')];
    await applyBatchOnce(db, 'order-c', [b1, a1, a2], async (_trx, d) => void seen.push(d.envelope.eventId), (d) => d.envelope.aggregateId);
    assert.deepEqual(seen, [a1, a2, b1].map((d) => d.envelope.eventId));
  });

  it('applies a batch that repeats events (a redelivery) only once', async () => {
    const bus = createMemoryBus();
    const [a, b] = [testEvent(bus, 'gpu_x'), testEvent(bus, 'gpu_y')];
    const delivery = (e: typeof a) => ({ envelope: e.envelope, subject: 'aitbc.gpu.status_changed', deliveryCount: 1 });
    const seen: string[] = [];
    const apply = async (_trx: Knex, d: { envelope: { eventId: string } }) => void seen.push(d.envelope.eventId);
    assert.equal(await applyBatchOnce(db, 'dup', [delivery(a), delivery(a), delivery(b)], apply), 2);
    assert.equal(await applyBatchOnce(db, 'dup', [delivery(b), delivery(a)], apply), 0);
    assert.deepEqual(seen, [a.envelope.eventId, b.envelope.eventId]);
  });
});
