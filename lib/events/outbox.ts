import { afterCommit, type Knex } from '../db';
import { EventEnvelope } from '../gen/aitbc/marketplace/v1/events';

/** Writes events into a service's outbox. Publishing never happens anywhere else, nor outbox SQL. */
export interface Outbox {
  /** Inserts the events in the caller's transaction; the relay is woken when it commits. */
  enqueue(trx: Knex, envelopes: EventEnvelope[]): Promise<void>;
  /**
   * Runs `change` (one data-modifying statement with a RETURNING clause) and writes the
   * events in the same statement, only if the change touched a row: atomic without a
   * transaction, in one round trip (the hot paths). Resolves to the rows the change returned;
   * the events (built beforehand) are written only when there are some.
   */
  withChange<Row = Record<string, unknown>>(db: Knex, change: Change, envelopes: EventEnvelope[]): Promise<Row[]>;
  /**
   * The events as one step of a statement the caller writes (`events AS (<sql>)` in its WITH
   * list), inserted only `when` that SQL condition holds; `written(db)` after the statement,
   * if it wrote them, wakes the relay once `db` commits. For statements whose own WITH list
   * cannot be nested inside withChange's (PostgreSQL allows data-modifying steps only at the top).
   */
  part(envelopes: EventEnvelope[], when: string): { sql: string; bindings: unknown[]; written(db: Knex): void };
  /** Called after each commit that wrote events (the relay sets it to wake itself). */
  onCommit(listener: () => void): void;
}

/**
 * A data-modifying statement with a RETURNING clause. With `aggregateColumn`, only the
 * events whose aggregate id is that column of a returned row are written (a batch that
 * ends some rows and finds others already ended announces only what it did).
 */
export interface Change {
  sql: string;
  bindings: unknown[];
  aggregateColumn?: string;
}

const COLUMNS = '(event_id, type, aggregate_id, envelope)';
const toValues = (envelopes: EventEnvelope[]) => ({
  sql: envelopes.map(() => '(?::text, ?::text, ?::text, ?::bytea)').join(', '),
  bindings: envelopes.flatMap((e) => [e.eventId, e.type, e.aggregateId, Buffer.from(EventEnvelope.encode(e).finish())]),
});

/**
 * Why no NOTIFY: PostgreSQL serialises every committing transaction that issued NOTIFY
 * behind one lock held through its WAL flush, which capped the whole mesh at about one
 * such commit per fsync (measured: 42 bookings/s). The relay in the same process is woken
 * directly once the transaction commits; relays of other replicas find rows by polling.
 */
export function createOutbox(): Outbox {
  const listeners: (() => void)[] = [];
  const wake = () => {
    for (const listener of listeners) listener();
  };
  // A transaction wakes the relay when it commits (a rollback wakes nobody).
  const written = (db: Knex) => afterCommit(db, wake);
  return {
    async enqueue(trx, envelopes) {
      if (!envelopes.length) return;
      const values = toValues(envelopes);
      await trx.raw(`INSERT INTO outbox ${COLUMNS} VALUES ${values.sql}`, values.bindings as never);
      written(trx);
    },
    async withChange<Row>(db: Knex, change: Change, envelopes: EventEnvelope[]): Promise<Row[]> {
      if (!envelopes.length) return (await db.raw(change.sql, change.bindings as never)).rows as Row[];
      const values = toValues(envelopes);
      const which = change.aggregateColumn
        ? `v.aggregate_id IN (SELECT ${change.aggregateColumn} FROM change)`
        : 'EXISTS (SELECT 1 FROM change)';
      // The change's rows come back through the outbox insert: one statement, one round trip.
      const { rows } = await db.raw(
        `WITH change AS (${change.sql}),
         events AS (INSERT INTO outbox ${COLUMNS} SELECT * FROM (VALUES ${values.sql}) v(event_id, type, aggregate_id, envelope) WHERE ${which})
         SELECT * FROM change`,
        [...change.bindings, ...values.bindings] as never,
      );
      if (rows.length) written(db);
      return rows as Row[];
    },
    part(envelopes, when) {
      const values = toValues(envelopes);
      return {
        sql: `INSERT INTO outbox ${COLUMNS} SELECT * FROM (VALUES ${values.sql}) v(event_id, type, aggregate_id, envelope) WHERE ${when}`,
        bindings: values.bindings,
        written,
      };
    },
    onCommit(listener) {
      listeners.push(listener);
    },
  };
}
