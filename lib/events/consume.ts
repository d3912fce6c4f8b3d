import { afterCommit, type Knex } from '../db';
import { metrics } from '../metrics';
import type { Logger } from '../logger';
import type { Worker } from '../service';
import type { EventBus } from './bus';
import { EVENT_TYPES, type EventEnvelope, type EventType, type PayloadOf } from './envelope';
import { createInboxConsumer, type InboxConsumerOptions } from './inboxConsumer';

/** A handler per event type, given the decoded payload of that type (and its envelope). */
export type EventHandlers = {
  [T in EventType]?: (trx: Knex, payload: PayloadOf<T>, envelope: EventEnvelope) => Promise<void> | void;
};

export interface ConsumeOptions extends Pick<InboxConsumerOptions, 'maxDeliver' | 'oneByOne' | 'batchOrder' | 'retryDelayMs' | 'ackWaitMs' | 'pruneIntervalMs'> {
  /** Durable name, also the inbox's consumer column. */
  durable: string;
  /** The events it takes, each with its effect (run in the transaction that records it in the inbox). */
  on: EventHandlers;
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
  const { on, durable, ...tuning } = options;
  const types = Object.keys(on) as EventType[];
  return createInboxConsumer({
    ...deps,
    ...tuning,
    durable,
    types,
    async apply(trx, delivery) {
      const type = delivery.envelope.type as EventType;
      const handler = on[type] as ((trx: Knex, payload: unknown, envelope: EventEnvelope) => Promise<void> | void) | undefined;
      if (!handler) return;
      await handler(trx, EVENT_TYPES[type].decode(delivery.envelope.payload), delivery.envelope);
      afterCommit(trx, () => metrics.eventApplied(durable, type, delivery.envelope.occurredAt));
    },
  });
}
