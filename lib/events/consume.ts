import { afterCommit, type Knex } from '../db';
import { metrics } from '../metrics';
import type { Logger } from '../logger';
import type { Worker } from '../service';
import type { EventBus } from './bus';
import { EVENT_TYPES, type EventEnvelope, type EventType, type PayloadOf } from './envelope';
import { createInboxConsumer, type InboxConsumerOptions } from './inboxConsumer';
import { runEffect, type EffectStatement, type InboxStep } from './statementEffect';

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

/**
 * Handlers that first try an event as one statement of their own making, with the inbox's
 * step in it: resolving false, they wrote nothing, and `on`'s handler of that type takes the
 * event in a transaction.
 */
export type FirstInOneStatementHandlers = {
  [T in EventType]?: (payload: PayloadOf<T>, envelope: EventEnvelope, inbox: InboxStep) => Promise<boolean>;
};

export interface ConsumeOptions extends Pick<InboxConsumerOptions, 'maxDeliver' | 'oneByOne' | 'batchOrder' | 'retryDelayMs' | 'ackWaitMs' | 'pruneIntervalMs'> {
  /** Durable name, also the inbox's consumer column. */
  durable: string;
  /** The events it takes, each with its effect (run in the transaction that records it in the inbox). */
  on?: EventHandlers;
  /** The events whose effect is one statement, each with it. */
  inOneStatement?: StatementHandlers;
  /** The events tried first in one statement, each also in `on` for when that does not apply. */
  firstInOneStatement?: FirstInOneStatementHandlers;
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
  const { on = {}, inOneStatement = {}, firstInOneStatement = {}, durable, ...tuning } = options;
  const types = [...Object.keys(on), ...Object.keys(inOneStatement)] as EventType[];
  const twice = types.find((t, i) => types.indexOf(t) !== i);
  if (twice) throw new Error(`${durable}: ${twice} has two handlers`);
  const alone = Object.keys(firstInOneStatement).find((t) => !(t in on));
  if (alone) throw new Error(`${durable}: ${alone} is tried in one statement with no handler for when that does not apply`);
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
      if (build) return { effect: build(deps.db, decode(envelope), envelope), committed: applied(envelope) };
      const own = firstInOneStatement[envelope.type as EventType] as ((payload: unknown, envelope: EventEnvelope, inbox: InboxStep) => Promise<boolean>) | undefined;
      return own ? { own: (inbox) => own(decode(envelope), envelope, inbox), committed: applied(envelope) } : undefined;
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
