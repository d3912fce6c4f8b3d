import type { Knex } from '../db';
import { EventEnvelope } from '../gen/aitbc/marketplace/v1/events';

/** The NOTIFY channel a schema's relay listens on. */
export const outboxChannel = (schema: string) => `aitbc_outbox_${schema}`;

/** Writes events into a service's outbox. Publishing never happens anywhere else. */
export interface Outbox {
  /** Inserts the events in the caller's transaction; the relay wakes when it commits. */
  enqueue(trx: Knex, envelopes: EventEnvelope[]): Promise<void>;
}

export function createOutbox(schema: string): Outbox {
  const channel = outboxChannel(schema);
  return {
    async enqueue(trx, envelopes) {
      if (!envelopes.length) return;
      await trx('outbox').insert(envelopes.map((e) => ({
        event_id: e.eventId,
        type: e.type,
        aggregate_id: e.aggregateId,
        envelope: Buffer.from(EventEnvelope.encode(e).finish()),
      })));
      // NOTIFY is delivered at commit (and not at all on rollback), so the relay never
      // wakes for an event that does not exist.
      await trx.raw('SELECT pg_notify(?, \'\')', [channel]);
    },
  };
}
