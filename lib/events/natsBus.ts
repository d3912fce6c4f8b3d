import {
  AckPolicy, connect, DeliverPolicy, headers, type MsgHdrs, type JetStreamClient, type JetStreamManager, type JsMsg, type NatsConnection, nanos,
  RetentionPolicy, StorageType, type StreamConfig,
} from 'nats';
import { EventEnvelope } from '../gen/aitbc/marketplace/v1/events';
import type { Logger } from '../logger';
import { type ConsumerOptions, deliver, type EventBus, type OutgoingEvent, type Subscription } from './bus';
import { STREAM_FAMILIES, STREAM_MAX_AGE_MS, subjectMatches } from './envelope';

export interface NatsBusOptions {
  url: string;
  /** Subject prefix; tests use their own so they never meet the mesh's events. */
  prefix?: string;
  /** Connection name shown by the NATS server (the service name). */
  name: string;
  logger: Logger;
  /** How long publishes wait for the stream's acknowledgement. */
  publishTimeoutMs?: number;
}

const ACK_WAIT_MS = 30_000;
/** The most events handed to a batch handler at once. */
const MAX_BATCH = 100;

/** The stream's name for a prefix: aitbc → AITBC_EVENTS. */
export const streamName = (prefix: string) => `${prefix.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_EVENTS`;

/**
 * JetStream: one stream of durable events (created or updated at start-up, 2-minute duplicate
 * window on Nats-Msg-Id, 7 days' retention), durable pull consumers with explicit acks, and
 * core NATS for heartbeats. Reconnects forever; publishes fail after their timeout while
 * NATS is away (the outbox keeps the events and the relay retries).
 */
export async function connectNatsBus(options: NatsBusOptions): Promise<EventBus> {
  const prefix = options.prefix ?? 'aitbc';
  const stream = streamName(prefix);
  const { logger } = options;
  let nc: NatsConnection;
  try {
    // noAsyncTraces: nats.js otherwise makes an Error (a stack trace) for every request it
    // starts, each publish's acknowledgement among them, in case it times out: 1% of the
    // booking service's CPU under load. A timeout still fails with its code and message.
    nc = await connect({ servers: options.url, name: options.name, maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 5000, noAsyncTraces: true });
  } catch (err) {
    throw new Error(`cannot reach NATS at ${options.url}: ${(err as Error).message}`);
  }
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect' || status.type === 'reconnect') logger.warn({ nats: status.type, server: status.data }, 'NATS connection');
    }
  })();
  const jsm: JetStreamManager = await nc.jetstreamManager({ timeout: 5000 });
  const js: JetStreamClient = nc.jetstream({ timeout: options.publishTimeoutMs ?? 5000 });
  await ensureStream(jsm, {
    name: stream,
    subjects: STREAM_FAMILIES.map((family) => `${prefix}.${family}.>`),
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(STREAM_MAX_AGE_MS),
    duplicate_window: nanos(120_000),
  });

  /**
   * `startAfter`: the stream sequence up to which the durable this one replaces had
   * acknowledged everything; a new durable starts after it instead of at the stream's start.
   */
  async function consumeDurable(durable: string, consumer: ConsumerOptions, startAfter = 0): Promise<Subscription> {
    const mutable = {
      // filter_subjects (several) needs NATS 2.10; Debian ships 2.9. One subject filters on
      // the server; several share their narrowest common wildcard and are sorted out below.
      filter_subject: commonFilter(consumer.subjects),
      ack_wait: nanos(consumer.ackWaitMs ?? ACK_WAIT_MS),
      // Dead-lettering is decided by the client (lib/events/bus.ts), which needs to see an
      // event again after a crash to record it; the server never gives up on its own.
      max_deliver: -1,
      max_ack_pending: 1000,
    };
    const exists = await jsm.consumers.info(stream, durable).then(() => true, () => false);
    try {
      if (exists) throw new Error('exists');
      await jsm.consumers.add(stream, {
        durable_name: durable, ack_policy: AckPolicy.Explicit, ...mutable,
        ...(startAfter > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startAfter + 1 } : { deliver_policy: DeliverPolicy.All }),
      });
    } catch {
      // An existing durable (another replica made it a moment ago, or an earlier start): what
      // may change (new filter subjects, say) is updated; where it starts never is.
      await jsm.consumers.update(stream, durable, mutable);
    }
    const handle = await js.consumers.get(stream, durable);
    const messages = await handle.consume({ max_messages: 256 });
    const iterator = messages[Symbol.asyncIterator]();
    let stopped = false;

    const deliverOne = async (m: JsMsg) => {
      const delivery = { envelope: EventEnvelope.decode(m.data), subject: m.subject, deliveryCount: m.info.redeliveryCount, traceparent: traceparentOf(m) };
      try {
        const outcome = await deliver(consumer, delivery, { keepAlive: () => m.working(), stopping: () => stopped });
        if (outcome === 'ack' && !stopped) m.ack();
      } catch (err) {
        if (stopped) return; // unacknowledged: redelivered after ack_wait
        logger.error({ err, durable: consumer.durable, eventId: delivery.envelope.eventId }, 'could not dead-letter an event; it will be redelivered');
        m.nak(consumer.retryDelayMs ?? 1000);
      }
    };

    // A next() that lost the race below is kept for the following round, so no message is lost.
    let carried: Promise<IteratorResult<JsMsg>> | undefined;
    const NOTHING_YET = Symbol('nothing yet');
    const loop = (async () => {
      for (;;) {
        const first = await (carried ?? iterator.next());
        carried = undefined;
        if (first.done || stopped) break;
        // With a batch handler, also take the events already received: they resolve within
        // microtasks, before setImmediate; the first that would have to wait ends the batch.
        const batch: JsMsg[] = [first.value];
        while (consumer.handleBatch && batch.length < MAX_BATCH) {
          const next = iterator.next();
          const got = await Promise.race([next, new Promise<typeof NOTHING_YET>((r) => setImmediate(() => r(NOTHING_YET)))]);
          if (got === NOTHING_YET) {
            carried = next;
            break;
          }
          if (got.done) break;
          batch.push(got.value);
        }
        const wanted: JsMsg[] = [];
        for (const m of batch) {
          if (consumer.subjects.some((s) => subjectMatches(s, m.subject))) wanted.push(m);
          else m.ack();
        }
        // Only first deliveries are batched: a redelivered event may be the one that crashed
        // its consumer, and goes alone through deliver() (which dead-letters it past maxDeliver).
        if (wanted.length > 1 && consumer.handleBatch && wanted.every((m) => m.info.redeliveryCount === 1)) {
          try {
            await consumer.handleBatch(wanted.map((m) => ({
              envelope: EventEnvelope.decode(m.data), subject: m.subject, deliveryCount: m.info.redeliveryCount, traceparent: traceparentOf(m),
            })));
            if (!stopped) for (const m of wanted) m.ack();
            continue;
          } catch {
            // One of them fails: apply them one by one, so only that one is retried.
          }
        }
        for (const m of wanted) {
          if (stopped) break;
          await deliverOne(m);
        }
      }
    })();
    return {
      async stop() {
        stopped = true;
        messages.stop();
        await loop;
      },
    };
  }

  return {
    kind: 'nats',
    subject: (type) => `${prefix}.${type}`,

    async publish(events: OutgoingEvent[]) {
      // Pipelined: all publishes are in flight at once, and the call resolves when the stream
      // has acknowledged every one (a duplicate id is acknowledged as such, not stored again).
      await Promise.all(events.map((e) => js.publish(e.subject, e.data, {
        msgID: e.id, expect: { streamName: stream }, ...(e.traceparent ? { headers: traceHeaders(e.traceparent) } : {}),
      })));
    },

    /**
     * A consumer of several families (gpu.* and booking.*, say) is one durable per family,
     * each filtered to exactly its family on the server: with one durable over all of them its
     * filter was the whole stream (NATS 2.9 takes one filter subject), and every other event,
     * each ledger entry among them, was delivered to it and acknowledged unread. Order holds
     * within a family; across families it never did (their publishers are other services).
     * The inbox, keyed by consumer, applies an event once whichever durable brings it.
     */
    async consume(consumer: ConsumerOptions): Promise<Subscription> {
      const families = new Map<string, string[]>();
      for (const s of consumer.subjects) {
        const family = s.slice(prefix.length + 1).split('.')[0];
        families.set(family, [...(families.get(family) ?? []), s]);
      }
      if (families.size < 2) return consumeDurable(consumer.durable, consumer);
      // The durable of the earlier shape, if there is one: the new ones start after what it
      // had acknowledged (not at the stream's start, days of events for the inbox to drop),
      // and it is deleted once they exist. A replica still on it stops consuming; the others go on.
      const earlier = await jsm.consumers.info(stream, consumer.durable).catch(() => undefined);
      const subscriptions = await Promise.all([...families].map(([family, subjects]) =>
        consumeDurable(`${consumer.durable}_${family}`, { ...consumer, subjects }, earlier?.ack_floor.stream_seq ?? 0)));
      if (earlier) {
        await jsm.consumers.delete(stream, consumer.durable).catch(() => undefined);
        logger.info({ durable: consumer.durable, families: [...families.keys()], startAfter: earlier.ack_floor.stream_seq }, 'consumer now one durable per event family; the earlier durable is deleted');
      }
      return { stop: async () => void (await Promise.all(subscriptions.map((s) => s.stop()))) };
    },

    publishTransient(subject, data) {
      nc.publish(subject, data);
    },

    subscribeTransient(subject, handler) {
      const sub = nc.subscribe(subject, { callback: (err, msg) => (err ? undefined : handler(msg.subject, msg.data)) });
      return { stop: async () => sub.unsubscribe() };
    },

    async close() {
      if (!nc.isClosed()) await nc.drain();
    },
  };
}

/** A message's W3C trace header (the relay's PRODUCER span), when it has one. */
const traceparentOf = (m: JsMsg): string | undefined => m.headers?.get('traceparent') || undefined;

function traceHeaders(traceparent: string): MsgHdrs {
  const h = headers();
  h.set('traceparent', traceparent);
  return h;
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (err) {
    if ((err as { code?: string }).code === '404' || /stream not found/i.test((err as Error).message)) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
}

/**
 * The narrowest single subject filter covering all of `subjects`:
 * [a.booking.created, a.booking.ended] → a.booking.>; one subject → itself.
 */
export function commonFilter(subjects: string[]): string {
  if (subjects.length === 1) return subjects[0];
  const split = subjects.map((s) => s.split('.'));
  const common: string[] = [];
  for (let i = 0; split.every((t) => i < t.length - 1 && t[i] === split[0][i] && t[i] !== '>'); i++) common.push(split[0][i]);
  return common.length ? `${common.join('.')}.>` : '>';
}
