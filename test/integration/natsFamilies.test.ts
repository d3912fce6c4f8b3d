import assert from 'node:assert/strict';
import { AckPolicy, connect, DeliverPolicy, type NatsConnection } from 'nats';
import { newEvent } from '../../lib/events/envelope';
import { EventEnvelope } from '../../lib/gen/aitbc/marketplace/v1/events';
import { createLogger } from '../../lib/logger';
import type { Delivery, EventBus } from '../../lib/events/bus';
import { connectNatsBus, streamName } from '../../lib/events/natsBus';
import { deleteStream, NATS_URL, testEvent, testPrefix, waitFor } from '../support/events';

const silent = createLogger('test', 'silent');

/** A booking.ended event (another family than testEvent's gpu.status_changed). */
function bookingEvent(bus: EventBus, bookingId: string) {
  const envelope = newEvent('booking.ended', 'test', bookingId, { reason: 'released' });
  return { envelope, outgoing: { id: envelope.eventId, subject: bus.subject(envelope.type), aggregateId: bookingId, data: EventEnvelope.encode(envelope).finish() } };
}

/**
 * One JetStream durable per event family: a consumer of gpu.* and booking.* gets exactly its
 * events from two durables filtered on the server; one of the earlier shape (a single durable
 * over the whole stream) hands over where it had acknowledged up to and is deleted; an
 * existing durable's filter follows the consumer's types.
 */
describe('NATS durables per event family', function () {
  this.timeout(30_000);
  let prefix: string;
  let bus: EventBus;
  let nc: NatsConnection;

  beforeEach(async () => {
    prefix = testPrefix();
    bus = await connectNatsBus({ url: NATS_URL, prefix, name: 'families', logger: silent });
    nc = await connect({ servers: NATS_URL });
  });
  afterEach(async () => {
    await bus.close();
    await nc.close();
    await deleteStream(prefix);
  });

  const consume = (durable: string, types: string[], seen: Delivery[]) => bus.consume({
    durable, subjects: types.map((t) => bus.subject(t)), deadLetter: async () => undefined,
    handle: async (d) => void seen.push(d),
  });

  it('takes two families from two durables, each filtered to its family, and nothing else', async () => {
    const ledger = newEvent('ledger.transaction', 'test', 'txn_1', {});
    await bus.publish([
      testEvent(bus, 'gpu_a').outgoing, bookingEvent(bus, 'bkg_a').outgoing,
      { id: ledger.eventId, subject: bus.subject(ledger.type), aggregateId: 'txn_1', data: EventEnvelope.encode(ledger).finish() },
    ]);
    const seen: Delivery[] = [];
    const sub = await consume('both', ['gpu.status_changed', 'booking.ended'], seen);
    await waitFor(() => seen.length >= 2, 5000, 'both events');
    await new Promise((r) => setTimeout(r, 200));
    await sub.stop();
    assert.deepEqual(seen.map((d) => d.envelope.type).sort(), ['booking.ended', 'gpu.status_changed']);
    const jsm = await nc.jetstreamManager();
    const names = new Map<string, string>();
    for await (const c of jsm.consumers.list(streamName(prefix))) names.set(c.name, c.config.filter_subject ?? '');
    assert.deepEqual([...names].sort(), [['both_booking', `${prefix}.booking.ended`], ['both_gpu', `${prefix}.gpu.status_changed`]]);
  });

  it('starts the family durables after what the earlier single durable had acknowledged, then deletes it', async () => {
    const jsm = await nc.jetstreamManager();
    const stream = streamName(prefix);
    const old = [testEvent(bus, 'gpu_old'), bookingEvent(bus, 'bkg_old')];
    await bus.publish(old.map((e) => e.outgoing));
    // The earlier shape: one durable over the whole stream, which has acknowledged both.
    await jsm.consumers.add(stream, { durable_name: 'mixed', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: `${prefix}.>` });
    const js = nc.jetstream();
    const messages = await (await js.consumers.get(stream, 'mixed')).fetch({ max_messages: 2, expires: 2000 });
    for await (const m of messages) await m.ackAck();
    assert.equal((await jsm.consumers.info(stream, 'mixed')).ack_floor.stream_seq, 2);

    const fresh = [testEvent(bus, 'gpu_new'), bookingEvent(bus, 'bkg_new')];
    await bus.publish(fresh.map((e) => e.outgoing));
    const seen: Delivery[] = [];
    const sub = await consume('mixed', ['gpu.status_changed', 'booking.ended'], seen);
    await waitFor(() => seen.length >= 2, 5000, 'the new events');
    await new Promise((r) => setTimeout(r, 300));
    await sub.stop();
    // Only what came after the earlier durable's acknowledgements: nothing replayed from the start.
    assert.deepEqual(seen.map((d) => d.envelope.eventId).sort(), fresh.map((e) => e.envelope.eventId).sort());
    const names: string[] = [];
    for await (const c of jsm.consumers.list(stream)) names.push(c.name);
    assert.deepEqual(names.sort(), ['mixed_booking', 'mixed_gpu']);
  });

  it('narrows an existing durable to the types its consumer now takes', async () => {
    const jsm = await nc.jetstreamManager();
    const stream = streamName(prefix);
    const seen: Delivery[] = [];
    const wide = await consume('narrowing', ['booking.created', 'booking.ended'], seen);
    await wide.stop();
    assert.equal((await jsm.consumers.info(stream, 'narrowing')).config.filter_subject, `${prefix}.booking.>`);
    const narrow = await consume('narrowing', ['booking.ended'], seen);
    await bus.publish([bookingEvent(bus, 'bkg_1').outgoing]);
    await waitFor(() => seen.length >= 1, 5000, 'the event');
    await narrow.stop();
    assert.equal((await jsm.consumers.info(stream, 'narrowing')).config.filter_subject, `${prefix}.booking.ended`);
  });
});
