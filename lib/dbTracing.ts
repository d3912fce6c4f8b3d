import { trace } from '@opentelemetry/api';
import type { Knex } from 'knex';
import { failSpan, SpanKind, startSpan, type Span, tracingOn } from './tracing';

/** Statements longer than this are cut in spans (a batch insert can be megabytes of SQL). */
const STATEMENT_LIMIT = 2000;
/** At most this many statements tracked at once: a lost response event must not grow a map for ever. */
const OPEN_LIMIT = 10_000;

interface QueryEvent {
  __knexQueryUid?: string;
  sql?: string;
}

/**
 * A CLIENT span per SQL statement, from knex's query events, parented on the context the
 * statement was issued in. Only statements inside a traced unit of work get one: pollers
 * and sweepers (relays, pruners) would otherwise fill the backend with root spans every
 * 100 ms. Off: one boolean test per statement.
 */
export function traceQueries(db: Knex, schema: string): void {
  const open = new Map<string, Span>();
  const finish = (q: QueryEvent, err?: unknown) => {
    const span = q.__knexQueryUid ? open.get(q.__knexQueryUid) : undefined;
    if (!span) return;
    open.delete(q.__knexQueryUid!);
    if (err) failSpan(span, err);
    span.end();
  };
  db.on('query', (q: QueryEvent) => {
    if (!tracingOn() || !q.__knexQueryUid || !trace.getActiveSpan() || open.size >= OPEN_LIMIT) return;
    const sql = q.sql ?? '';
    const operation = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? 'SQL';
    const span = startSpan(`${operation} ${schema}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system': 'postgresql',
        'db.namespace': schema,
        'db.operation.name': operation,
        'db.statement': sql.length > STATEMENT_LIMIT ? `${sql.slice(0, STATEMENT_LIMIT)}…` : sql,
      },
    });
    if (span) open.set(q.__knexQueryUid, span);
  });
  db.on('query-response', (_response: unknown, q: QueryEvent) => finish(q));
  db.on('query-error', (err: unknown, q: QueryEvent) => finish(q, err));
}
