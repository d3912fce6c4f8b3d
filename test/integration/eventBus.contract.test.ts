import assert from 'node:assert/strict';
import type { Delivery, EventBus } from '../../lib/events/bus';
import { createMemoryBus } from '../../lib/events/memoryBus';
import { connectNatsBus } from '../../lib/events/natsBus';
import { createLogger } from '../../lib/logger';
import { deleteStream, NATS_URL, testEvent, testPrefix, waitFor } from '../support/events';

/** The same guarantees, checked against both implementations of the bus. */
const BUSES: [string, (prefix: string) => Promise<EventBus>][] = [
  ['in-process', async (prefix) => createMemoryBus({ prefix })],
  ['NATS JetStream', (prefix) => connectNatsBus({ url: NATS_URL, prefix, name: 'contract-test', logger: createLogger('test', 'silent') })],
];

for (const [name, open] of BUSES) {
  describe(`event bus contract: ${name}`, () => {
    let prefix: string;
    let bus: EventBus;
    const subscriptions: { stop(): Promise<void> }[] = [];

    beforeEach(async () => {
      prefix = testPrefix();
      bus = await open(prefix);
    });
    afterEach(async () => {
      for (const s of subscriptions.splice(0)) await s.stop();
      await bus.close();
      if (bus.kind === 'nats') await deleteStream(prefix);
    });

    const consume = async (durable: string, handle: (d: Delivery) => Promise<void>, extra: { maxDeliver?: number; deadLetters?: Delivery[] } = {}) => {
      // A short ack wait, so JetStream hands an unacknowledged event out again within the test.
      const sub = await bus.consume({
        durable,
        subjects: [bus.subject('gpu.>')],
        handle,
        deadLetter: async (d) => void extra.deadLetters?.push({ ...d }),
        maxDeliver: extra.maxDeliver ?? 4,
        retryDelayMs: 10,
        ackWaitMs: 1000,
      });
      subscriptions.push(sub);
      return sub;
    };

    it('delivers every stored event once, in publish order, also to a consumer created later', async () => {
      const events = Array.from({ length: 50 }, (_, i) => testEvent(bus, `gpu_${i % 5}`));
      await bus.publish(events.slice(0, 25).map((e) => e.outgoing));
      const seen: string[] = [];
      await consume('orderly', async (d) => void seen.push(d.envelope.eventId));
      await bus.publish(events.slice(25).map((e) => e.outgoing));
      await waitFor(() => seen.length >= 50, 5000, '50 deliveries');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(seen, events.map((e) => e.envelope.eventId));
    });

    it('keeps the order of each aggregate when a handler fails and is retried', async () => {
      const a = [1, 2, 3].map(() => testEvent(bus, 'gpu_a'));
      const b = [1, 2].map(() => testEvent(bus, 'gpu_b'));
      await bus.publish([a[0], b[0], a[1], b[1], a[2]].map((e) => e.outgoing));
      const applied: string[] = [];
      const counts = new Map<string, number>();
      await consume('retrying', async (d) => {
        counts.set(d.envelope.eventId, d.deliveryCount);
        if (d.envelope.eventId === a[1].envelope.eventId && d.deliveryCount < 3) throw new Error('transient');
        applied.push(d.envelope.eventId);
      });
      await waitFor(() => applied.length === 5, 5000, 'five applied events');
      const order = (agg: { envelope: { eventId: string } }[]) => applied.filter((id) => agg.some((e) => e.envelope.eventId === id));
      assert.deepEqual(order(a), a.map((e) => e.envelope.eventId));
      assert.deepEqual(order(b), b.map((e) => e.envelope.eventId));
      assert.equal(counts.get(a[1].envelope.eventId), 3, 'redelivered twice after failing');
    });

    it('redelivers an event its consumer never acknowledged (stopped or crashed mid-way)', async () => {
      const event = testEvent(bus, 'gpu_crash');
      await bus.publish([event.outgoing]);
      let release!: () => void;
      let firstCount = 0;
      const first = await consume('crashy', async (d) => {
        firstCount = d.deliveryCount;
        await new Promise<void>((r) => (release = r));
      });
      await waitFor(() => firstCount === 1, 5000, 'first delivery');
      const stopping = first.stop();
      release();
      await stopping;
      subscriptions.splice(subscriptions.indexOf(first), 1);
      const again: Delivery[] = [];
      await consume('crashy', async (d) => void again.push({ ...d }));
      await waitFor(() => again.length === 1, 8000, 'redelivery');
      assert.equal(again[0].envelope.eventId, event.envelope.eventId);
      assert.equal(again[0].deliveryCount, 2);
    });

    it('dead-letters an event after maxDeliver failures and moves on', async () => {
      const poison = testEvent(bus, 'gpu_p', 'poison');
      const fine = testEvent(bus, 'gpu_q');
      await bus.publish([poison.outgoing, fine.outgoing]);
      const deadLetters: Delivery[] = [];
      const applied: string[] = [];
      let attempts = 0;
      await consume('poisoned', async (d) => {
        if (d.envelope.eventId === poison.envelope.eventId) {
          attempts++;
          throw new Error('cannot apply');
        }
        applied.push(d.envelope.eventId);
      }, { maxDeliver: 3, deadLetters });
      await waitFor(() => applied.length === 1, 5000, 'the event after the poison one');
      assert.equal(attempts, 3);
      assert.equal(deadLetters.length, 1);
      assert.equal(deadLetters[0].envelope.eventId, poison.envelope.eventId);
      assert.equal(deadLetters[0].deliveryCount, 3);
      assert.deepEqual(applied, [fine.envelope.eventId]);
    });

    it('stores an event id published twice only once', async () => {
      const event = testEvent(bus, 'gpu_dup');
      const other = testEvent(bus, 'gpu_dup');
      await bus.publish([event.outgoing]);
      await bus.publish([event.outgoing, other.outgoing]);
      const seen: string[] = [];
      await consume('dedup', async (d) => void seen.push(d.envelope.eventId));
      await waitFor(() => seen.length >= 2, 5000, 'two deliveries');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(seen, [event.envelope.eventId, other.envelope.eventId]);
    });

    it('gives each durable its own copy, and filters by subject', async () => {
      const event = testEvent(bus, 'gpu_fan');
      const one: string[] = [];
      const two: string[] = [];
      const none: string[] = [];
      await consume('one', async (d) => void one.push(d.envelope.eventId));
      await consume('two', async (d) => void two.push(d.envelope.eventId));
      subscriptions.push(await bus.consume({
        durable: 'bookings-only', subjects: [bus.subject('booking.>')], handle: async (d) => void none.push(d.envelope.eventId),
        deadLetter: async () => undefined,
      }));
      await bus.publish([event.outgoing]);
      await waitFor(() => one.length === 1 && two.length === 1, 5000, 'both durables');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(none, []);
    });

    it('carries transient messages (heartbeats) to subscribers by wildcard', async () => {
      const got: string[] = [];
      const sub = bus.subscribeTransient(bus.subject('miner.heartbeat.*'), (subject) => void got.push(subject));
      await new Promise((r) => setTimeout(r, 50));
      bus.publishTransient(bus.subject('miner.heartbeat.rig-1'), new Uint8Array([1]));
      await waitFor(() => got.length === 1, 3000, 'a heartbeat');
      assert.deepEqual(got, [bus.subject('miner.heartbeat.rig-1')]);
      await sub.stop();
    });
  });
}

describe('in-process bus memory', () => {
  const consume = async (bus: EventBus, durable: string, seen: string[]) => bus.consume({
    durable, subjects: [bus.subject('gpu.>')], handle: async (d) => void seen.push(d.envelope.eventId), deadLetter: async () => undefined,
  });

  it('drops old events only once every durable has passed them', async () => {
    const bus = createMemoryBus({ prefix: testPrefix(), keepMs: 0 });
    const fast: string[] = [];
    const slow: string[] = [];
    const fastSub = await consume(bus, 'fast', fast);
    // A durable that exists but has not read anything yet holds every event.
    const slowSub = await consume(bus, 'slow', slow);
    await slowSub.stop();
    const batch = () => Array.from({ length: 1500 }, (_, i) => testEvent(bus, `gpu_${i}`).outgoing);
    await bus.publish(batch());
    await waitFor(() => fast.length === 1500, 5000, 'the fast durable');
    await bus.publish(batch());
    await waitFor(() => fast.length === 3000, 5000, 'the fast durable again');
    const resumed = await consume(bus, 'slow', slow);
    await waitFor(() => slow.length === 3000, 5000, 'the slow durable, nothing dropped before it read it');
    // Now both have passed everything: the next publish drops the old events, and a durable
    // that first appears afterwards starts from what is left.
    await bus.publish([testEvent(bus, 'gpu_last').outgoing]);
    const late: string[] = [];
    const lateSub = await consume(bus, 'late', late);
    await waitFor(() => fast.length === 3001 && slow.length === 3001, 5000, 'the last event');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(late.length, 1, 'the late durable starts after the dropped events');
    for (const s of [fastSub, resumed, lateSub]) await s.stop();
    await bus.close();
  });
});
