import { deleteInBatches, type Knex } from '../db';
import { EventEnvelope } from '../gen/aitbc/marketplace/v1/events';
import type { Logger } from '../logger';
import { createPeriodic } from '../periodic';
import type { Worker } from '../service';
import type { Delivery, EventBus } from './bus';
import { consumeTraced } from './eventTracing';
import { STREAM_MAX_AGE_MS } from './envelope';
import { applyInOneStatement, NOT_APPLIED, type StatementPlan } from './statementEffect';

/**
 * Inbox rows are kept a day longer than the stream keeps events: no delivery or replay can
 * bring back an event older than that, so its id need not be remembered.
 */
export const INBOX_RETENTION_MS = STREAM_MAX_AGE_MS + 24 * 3600 * 1000;

export interface InboxConsumerOptions {
  db: Knex;
  bus: EventBus;
  logger: Logger;
  /** Durable name, also the inbox's consumer column. */
  durable: string;
  /** Event types, e.g. ['booking.created', 'booking.ended'] or ['gpu.>']. */
  types: string[];
  /** The effect, run in the transaction that records the event id in the inbox. */
  apply(trx: Knex, delivery: Delivery): Promise<void>;
  /**
   * The event's effect as one statement, when it is one (undefined: it needs apply's
   * transaction): the effect and its inbox row then commit in one round trip.
   */
  statementOf?(delivery: Delivery): StatementPlan | undefined;
  maxDeliver?: number;
  /**
   * One transaction per event, never a batch: effects that lock rows others wait for hold
   * them briefly, and two replicas' transactions (each one event's rows, in that event's
   * order) cannot deadlock the way two batches did.
   */
  oneByOne?: boolean;
  /**
   * The row an event's effect locks (a GPU id, say): a batch applies its events in this key's
   * order, stably, so one key's events keep theirs. Every batch then locks rows in one order,
   * and two replicas' batches wait for each other instead of deadlocking.
   */
  batchOrder?(delivery: Delivery): string;
  retryDelayMs?: number;
  ackWaitMs?: number;
  /** How often old inbox rows are pruned (default hourly). */
  pruneIntervalMs?: number;
}

/**
 * A durable consumer whose effects happen exactly once: the event id goes into the inbox in
 * the same transaction as the effect, so a redelivery (after a crash between commit and ack,
 * or a replay) finds the id and changes nothing. Poison events land in dead_letters.
 */
export function createInboxConsumer(options: InboxConsumerOptions): Worker & { applied(): number } {
  const { db, bus, logger, durable } = options;
  let subscription: { stop(): Promise<void> } | undefined;
  const tracedApply = (trx: Knex, delivery: Delivery) => consumeTraced(durable, delivery, () => options.apply(trx, delivery));
  // One statement when the event has one (and it applies), else a transaction.
  const applyEither = async (delivery: Delivery, plan = options.statementOf?.(delivery), later?: (() => void)[]) => {
    const done = plan ? await applyInOneStatement(db, durable, delivery, plan, later) : NOT_APPLIED;
    return done === NOT_APPLIED ? applyOnce(db, durable, delivery, options.apply) : done;
  };
  let applied = 0;
  const pruner = createPeriodic(`inbox-pruner:${durable}`, options.pruneIntervalMs ?? 3600_000, logger, async () => {
    const pruned = await pruneInbox(db, durable, new Date(Date.now() - INBOX_RETENTION_MS));
    if (pruned) logger.info({ durable, pruned }, 'inbox pruned');
  });
  return {
    name: `consumer:${durable}`,
    applied: () => applied,
    async start() {
      pruner.start();
      subscription = await bus.consume({
        durable,
        subjects: options.types.map((t) => bus.subject(t)),
        maxDeliver: options.maxDeliver,
        retryDelayMs: options.retryDelayMs,
        ackWaitMs: options.ackWaitMs,
        handle: async (delivery) => {
          if (await consumeTraced(durable, delivery, () => applyEither(delivery))) applied++;
        },
        handleBatch: options.oneByOne ? undefined : async (deliveries) => {
          const plans = deliveries.map((d) => options.statementOf?.(d));
          if (plans.every((plan) => plan)) {
            // Each its own statement, in order: a transaction around them would only add
            // round trips and hold each one's locks until the last.
            const later: (() => void)[] = [];
            try {
              for (const [i, delivery] of deliveries.entries()) {
                if (await consumeTraced(durable, delivery, () => applyEither(delivery, plans[i], later))) applied++;
              }
            } finally {
              // What committed, even if a later event failed; one follow-up failing stops no other.
              for (const fn of later) {
                try {
                  fn();
                } catch (err) {
                  logger.error({ durable, err }, 'an event follow-up failed');
                }
              }
            }
            return;
          }
          // A batch shares one transaction: each event's span covers its own effect.
          applied += await applyBatchOnce(db, durable, deliveries, tracedApply, options.batchOrder);
        },
        deadLetter: async (delivery, error) => {
          logger.error({ durable, eventId: delivery.envelope.eventId, type: delivery.envelope.type, err: error }, 'event dead-lettered');
          await db('dead_letters').insert({
            consumer: durable,
            event_id: delivery.envelope.eventId,
            type: delivery.envelope.type,
            subject: delivery.subject,
            aggregate_id: delivery.envelope.aggregateId,
            envelope: Buffer.from(EventEnvelope.encode(delivery.envelope).finish()),
            deliveries: delivery.deliveryCount,
            error: error instanceof Error ? error.message : String(error),
          });
        },
      });
    },
    async stop() {
      await pruner.stop();
      await subscription?.stop();
    },
  };
}

/**
 * Forgets the event ids a consumer applied before `before`, in short statements; returns how
 * many. (Without it the inbox grows by one row per event and consumer, for ever.)
 */
export async function pruneInbox(db: Knex, consumer: string, before: Date): Promise<number> {
  return deleteInBatches(db, 'inbox', ['consumer', 'event_id'], (q) => q.where({ consumer }).where('processed_at', '<', before));
}

/**
 * Applies an event's effect unless this consumer already did: the inbox row and the effect
 * commit together. Returns false for an event seen before (a redelivery or a replay).
 */
export async function applyOnce(
  db: Knex,
  consumer: string,
  delivery: Delivery,
  apply: (trx: Knex, delivery: Delivery) => Promise<void>,
): Promise<boolean> {
  return db.transaction(async (trx) => {
    const inserted = await trx('inbox')
      .insert({ consumer, event_id: delivery.envelope.eventId })
      .onConflict(['consumer', 'event_id'])
      .ignore()
      .returning('event_id');
    if (!inserted.length) return false;
    await apply(trx, delivery);
    return true;
  });
}

/**
 * The batch form of applyOnce: one transaction records all the event ids and applies, in
 * order, the effects of those not seen before. Returns how many it applied.
 */
export async function applyBatchOnce(
  db: Knex,
  consumer: string,
  deliveries: Delivery[],
  apply: (trx: Knex, delivery: Delivery) => Promise<void>,
  order?: (delivery: Delivery) => string,
): Promise<number> {
  return db.transaction(async (trx) => {
    const inserted: { event_id: string }[] = await trx('inbox')
      .insert(deliveries.map((d) => ({ consumer, event_id: d.envelope.eventId })))
      .onConflict(['consumer', 'event_id'])
      .ignore()
      .returning('event_id');
    const fresh = new Set(inserted.map((r) => r.event_id));
    for (const delivery of order ? inKeyOrder(deliveries, order) : deliveries) {
      // delete(): an id twice in one batch is applied once.
      if (fresh.delete(delivery.envelope.eventId)) await apply(trx, delivery);
    }
    return inserted.length;
  });
}

/** The deliveries sorted by key, stably (Array.prototype.sort is): each key's keep their order. */
function inKeyOrder(deliveries: Delivery[], order: (delivery: Delivery) => string): Delivery[] {
  const keys = new Map(deliveries.map((d) => [d, order(d)]));
  return [...deliveries].sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : keys.get(a)! > keys.get(b)! ? 1 : 0));
}
