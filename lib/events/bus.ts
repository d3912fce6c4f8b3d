import type { EventEnvelope } from './envelope';

/** An event ready for the bus: the encoded envelope plus what routing and dedup need. */
export interface OutgoingEvent {
  id: string;
  subject: string;
  aggregateId: string;
  data: Uint8Array;
  /** The publisher's trace context, sent beside the data (a NATS header) when tracing is on. */
  traceparent?: string;
}

/** One delivery of an event to a durable consumer. */
export interface Delivery {
  envelope: EventEnvelope;
  subject: string;
  /** 1 on first delivery; grows with each redelivery (handler failure or consumer crash). */
  deliveryCount: number;
  /** The publisher's trace context, when it sent one (see OutgoingEvent). */
  traceparent?: string;
}

export interface ConsumerOptions {
  /** Durable name: one position and one set of pending acks per name, shared by replicas. */
  durable: string;
  /** Full subjects or NATS wildcards, e.g. `aitbc.gpu.>` (use bus.subject(type)). */
  subjects: string[];
  /** Applies the event. Must be idempotent (see lib/events/inboxConsumer.ts); throwing means retry. */
  handle(delivery: Delivery): Promise<void>;
  /**
   * Optional: applies several events at once, in order (one transaction for all). A bus may
   * use it for events already waiting; if it throws, each event goes through `handle` alone.
   */
  handleBatch?(deliveries: Delivery[]): Promise<void>;
  /** Records a poison message before it is dropped; throwing leaves it for redelivery. */
  deadLetter(delivery: Delivery, error: unknown): Promise<void>;
  /** Deliveries before a failing event is dead-lettered (default 5). */
  maxDeliver?: number;
  /** First retry delay; doubles on each further failure (default 200 ms). */
  retryDelayMs?: number;
  /** How long an unacknowledged delivery waits before the bus hands it out again (default 30 s). */
  ackWaitMs?: number;
}

export interface Subscription {
  /** Stops consuming; an event being handled is left unacknowledged (it will be redelivered). */
  stop(): Promise<void>;
}

/**
 * The event bus every service uses: JetStream (lib/events/natsBus.ts) or, for a one-process
 * mesh without NATS, an in-process bus with the same guarantees (lib/events/memoryBus.ts).
 *
 * Guarantees, checked by test/integration/eventBus.contract.test.ts against both:
 * - publish resolves once events are stored; an id published again within the duplicate
 *   window is stored once;
 * - a durable consumer gets every event matching its subjects, in publish order, one at a
 *   time (so events of one aggregate are applied in order);
 * - a failed handler is retried with backoff up to maxDeliver deliveries, then the event is
 *   dead-lettered and the consumer moves on (a poison message never stalls it);
 * - an event whose handler never acknowledged (consumer stopped or crashed) is redelivered.
 */
export interface EventBus {
  readonly kind: 'nats' | 'memory';
  /** `<prefix>.<type>`, e.g. aitbc.gpu.registered. */
  subject(type: string): string;
  publish(events: OutgoingEvent[]): Promise<void>;
  consume(options: ConsumerOptions): Promise<Subscription>;
  /** Fire-and-forget, not stored (heartbeats). */
  publishTransient(subject: string, data: Uint8Array): void;
  subscribeTransient(subject: string, handler: (subject: string, data: Uint8Array) => void): Subscription;
  close(): Promise<void>;
}

export const DEFAULT_MAX_DELIVER = 5;
export const DEFAULT_RETRY_DELAY_MS = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The delivery rule both buses share. Retries happen in place (the consumer waits), which
 * keeps strict order: a later event of the same aggregate can never overtake a failing one.
 * The wait is bounded (retryDelay × (2^maxDeliver − 1) at most), after which the event is
 * dead-lettered. An event that arrives already past maxDeliver (its consumer kept crashing
 * on it) is dead-lettered without running the handler again.
 *
 * Returns 'ack' (handled or dead-lettered), 'stopped' (the consumer is stopping: leave the
 * event unacknowledged), or throws when even dead-lettering failed.
 */
export async function deliver(
  options: ConsumerOptions,
  delivery: Delivery,
  hooks: { keepAlive?: () => void; stopping?: () => boolean } = {},
): Promise<'ack' | 'stopped'> {
  const maxDeliver = options.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const retryDelay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  if (delivery.deliveryCount > maxDeliver) {
    await options.deadLetter(delivery, new Error(`delivered ${delivery.deliveryCount} times without an acknowledgement`));
    return 'ack';
  }
  for (;;) {
    try {
      await options.handle(delivery);
      return 'ack';
    } catch (err) {
      // A consumer being stopped gives up without dead-lettering: a failure during shutdown
      // (its database going away, say) says nothing about the event. It stays unacknowledged.
      if (hooks.stopping?.()) return 'stopped';
      if (delivery.deliveryCount >= maxDeliver) {
        await options.deadLetter(delivery, err);
        return 'ack';
      }
      await sleep(retryDelay * 2 ** (delivery.deliveryCount - 1));
      if (hooks.stopping?.()) return 'stopped';
      hooks.keepAlive?.();
      delivery.deliveryCount += 1;
    }
  }
}
