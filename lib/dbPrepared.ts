import type { Knex } from 'knex';

/** Statements a process keeps prepared on each connection, at most (PostgreSQL holds each one's plan per backend). */
const MAX_PREPARED = 200;
/** Runs of one text before it is prepared: start-up and one-off statements stay unnamed. */
const RUNS_BEFORE_PREPARED = 3;
/** Texts longer than this are never prepared (batch inserts: their text changes with their size). */
const MAX_TEXT = 8_000;
/** Error PostgreSQL answers when a migration changed the row type a prepared statement returns. */
const PLAN_CHANGED = '0A000';

interface PgQuery { sql: string; bindings?: unknown[]; options?: Record<string, unknown> }
interface PgConnection { __knexTxId?: string }
interface PgClient { _query(connection: PgConnection, obj: PgQuery): Promise<unknown> }

/**
 * Runs the statements a process repeats as named (prepared) statements, so that PostgreSQL
 * parses and plans each once per connection instead of on every run. Measured in
 * bench:booking, planning alone was 3.5 of the 12.5 ms PostgreSQL spent per book + release
 * pair: knex sends every statement unnamed, and the hot statements are long CTEs whose plan
 * costs as much as running them. With plan_cache_mode auto PostgreSQL still plans a
 * statement for its values when its generic plan looks dearer (a partial index a bound value
 * decides): such statements gain nothing, and are better written with the value in the text.
 *
 * Only statements with bind parameters are named (the extended protocol runs one statement;
 * a text of several, like the outbox relay's BEGIN and claim, keeps the simple protocol).
 * Patched once into knex's PostgreSQL client class, so transactions' statements are
 * prepared too.
 */
export function preparedStatements(db: Knex): void {
  // Transactions run on clients made from the class's prototype, not from this instance.
  const proto = Object.getPrototypeOf(db.client) as PgClient & { [PATCHED]?: true };
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const run = proto._query;
  proto._query = async function (this: PgClient, connection, obj) {
    const name = obj.bindings?.length && !obj.options?.name ? nameOf(obj.sql) : undefined;
    if (!name) return run.call(this, connection, obj);
    try {
      return await run.call(this, connection, { ...obj, options: { ...obj.options, name } });
    } catch (err) {
      // A migration (another replica's, during a rolling upgrade) changed a table this
      // statement returns rows of: the text is prepared again under a new name once it
      // repeats (every connection's old plan is stale). Outside a transaction nothing ran, so
      // it runs again at once, unnamed; inside one, the transaction is already aborted.
      if ((err as { code?: string }).code !== PLAN_CHANGED || !/cached plan/.test(String((err as Error).message))) throw err;
      names.delete(obj.sql);
      if (connection.__knexTxId) throw err;
      return run.call(this, connection, obj);
    }
  };
}

const PATCHED = Symbol('aitbc.preparedStatements');
/** Per process: a name is never given to two texts, so no connection can hold one name for two statements. */
const names = new Map<string, string>();
const runs = new Map<string, number>();
let issued = 0;

function nameOf(text: string): string | undefined {
  const known = names.get(text);
  if (known || issued >= MAX_PREPARED || text.length > MAX_TEXT) return known;
  const seen = (runs.get(text) ?? 0) + 1;
  if (seen < RUNS_BEFORE_PREPARED) {
    // Bounded: texts that never repeat (ids spliced into SQL) must not grow it for ever.
    if (runs.size >= 5_000) runs.clear();
    runs.set(text, seen);
    return undefined;
  }
  runs.delete(text);
  const name = `aitbc_${issued++}`;
  names.set(text, name);
  return name;
}
