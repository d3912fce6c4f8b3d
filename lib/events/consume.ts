import { afterCommit, type Knex } from '../db';
import { metrics } from '../metrics';
import type { Logger } from '../logger';
import type { Worker } from '../service';
import type { EventBus } from './bus';
import { EVENT_TYPES, type EventEnvelope, type EventType, type PayloadOf } from './envelope';
import { createInboxConsumer, type InboxConsumerOptions } from './inboxConsumer';
import { runEffect, type EffectStatement } from './statementEffect';

/** A handler per event type, given the decoded payload of that type (and its envelope). */
export type EventHandlers = {
  [T in EventType]?: (trx: Knex, payload: PayloadOf<T>, envelope: EventEnvelope) => Promise<void> | void;
};

/**
 * A handler per event type whose effect is one statement (or none), built with `db` and not
 * awaited: the consumer runs it together with the event's inbox row, in one round trip.
 */
export type StatementHandlers = {
  [T in EventType]?: (db: Knex, payload: PayloadOf<T>, envelope: EventEnvelope) => EffectStatement | undefined;
};

export interface ConsumeOptions extends Pick<InboxConsumerOptions, 'maxDeliver' | 'oneByOne' | 'batchOrder' | 'retryDelayMs' | 'ackWaitMs' | 'pruneIntervalMs'> {
  /** Durable name, also the inbox's consumer column. */
  durable: string;
  /** The events it takes, each with its effect (run in the transaction that records it in the inbox). */
  on?: EventHandlers;
  /** The events whose effect is one statement, each with it. */
  inOneStatement?: StatementHandlers;
}

/** What every consumer of a service shares: its database, bus and logger. */
export interface ConsumerDeps {
  db: Knex;
  bus: EventBus;
  logger: Logger;
}

/**
 * Declares a durable, exactly-once consumer by its handlers: the types it subscribes to are
 * the handlers' keys, and each handler gets its own payload type (from events.proto through
 * EVENT_TYPES), so no consumer switches on a type string or casts.
 */
export function consume(deps: ConsumerDeps, options: ConsumeOptions): Worker & { applied(): number } {
  const { on = {}, inOneStatement = {}, durable, ...tuning } = options;
  const types = [...Object.keys(on), ...Object.keys(inOneStatement)] as EventType[];
  const twice = types.find((t, i) => types.indexOf(t) !== i);
  if (twice) throw new Error(`${durable}: ${twice} has two handlers`);
  const decode = (envelope: EventEnvelope) => EVENT_TYPES[envelope.type as EventType].decode(envelope.payload);
  const statementFor = (type: string) =>
    inOneStatement[type as EventType] as ((db: Knex, payload: unknown, envelope: EventEnvelope) => EffectStatement | undefined) | undefined;
  const applied = (envelope: EventEnvelope) => () => metrics.eventApplied(durable, envelope.type, envelope.occurredAt);
  return createInboxConsumer({
    ...deps,
    ...tuning,
    durable,
    types,
    statementOf({ envelope }) {
      const build = statementFor(envelope.type);
      return build ? { effect: build(deps.db, decode(envelope), envelope), committed: applied(envelope) } : undefined;
    },
    async apply(trx, { envelope }) {
      const build = statementFor(envelope.type);
      const handler = on[envelope.type as EventType] as ((trx: Knex, payload: unknown, envelope: EventEnvelope) => Promise<void> | void) | undefined;
      if (build) {
        // In a batch's transaction (beside events that need one): run, and follow up at commit.
        const effect = build(trx, decode(envelope), envelope);
        if (effect) {
          const rows = await runEffect(effect);
          afterCommit(trx, () => effect.after?.(rows));
        }
      } else if (handler) {
        await handler(trx, decode(envelope), envelope);
      } else {
        return;
      }
      afterCommit(trx, applied(envelope));
    },
  });
}
