import knex, { type Knex } from 'knex';
import pg from 'pg';
import { preparedStatements } from './dbPrepared';
import { traceQueries } from './dbTracing';
import type { Logger } from './logger';

export type { Knex };

// int8 (bigint) columns hold micro-units and counters; they stay far below 2^53, so parse
// them as numbers. A value that is not a safe integer is a bug worth failing loudly on.
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`int8 out of safe range: ${text}`);
  return value;
});

/** One forward-only migration of a service's schema. */
export interface Migration {
  name: string;
  up(db: Knex): Promise<void>;
}

export interface DbOptions {
  url: string;
  /** The service's own schema: every table lives there, and so does the migration log. */
  schema: string;
  migrations: Migration[];
  poolMax?: number;
  /**
   * The longest a statement may run, lock waits included (PostgreSQL cancels it: 57014); the
   * client gives up a second later if the server does not answer at all. Unset: no limit.
   * Migrations run without it.
   */
  statementTimeoutMs?: number;
  /** Where knex's own warnings go (as JSON log lines); by default knex prints them as text. */
  logger?: Logger;
}

/**
 * Connects knex to the service's schema and migrates it. Migrations are a list of modules
 * (not a folder scan), so they run the same from TypeScript sources and from dist/.
 * Concurrent replicas are safe: knex takes its migration lock before running anything.
 */
export async function openDb(options: DbOptions): Promise<Knex> {
  const db = connectDb(options);
  try {
    await createSchema(db, options.schema);
    await db.migrate.latest({
      schemaName: options.schema,
      tableName: 'knex_migrations',
      migrationSource: {
        getMigrations: async () => options.migrations,
        getMigrationName: (m: Migration) => m.name,
        getMigration: async (m: Migration) => ({
          // Each migration runs in its own transaction; a backfill of a big table may take long.
          up: async (trx: Knex) => {
            await trx.raw('SET LOCAL statement_timeout = 0');
            await m.up(trx);
          },
          down: async () => { throw new Error('migrations are forward-only'); },
        }),
      },
    });
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return db;
}

/** A knex handle on a schema, without migrating it (tools and tests that only read). */
export function connectDb(options: Omit<DbOptions, 'migrations'>): Knex {
  const db = knex({
    client: 'pg',
    connection: {
      connectionString: options.url,
      application_name: `aitbc-${options.schema}`,
      ...(options.statementTimeoutMs ? {
        statement_timeout: options.statementTimeoutMs,
        query_timeout: options.statementTimeoutMs + 1000,
        // A transaction left open (a bug, a hung client) must not hold its locks for ever.
        idle_in_transaction_session_timeout: Math.max(options.statementTimeoutMs * 6, 60_000),
      } : {}),
    },
    searchPath: [options.schema, 'public'],
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
    ...(options.logger ? { log: knexLog(options.logger) } : {}),
  });
  traceQueries(db, options.schema);
  preparedStatements(db);
  return db;
}

/** knex's log (pool errors while the database is away, deprecations) as structured lines. */
function knexLog(logger: Logger) {
  const log = logger.child({ component: 'knex' });
  const text = (m: unknown) => (typeof m === 'string' ? m : JSON.stringify(m));
  return {
    warn: (m: unknown) => log.warn(text(m)),
    error: (m: unknown) => log.error(text(m)),
    deprecate: (m: unknown) => log.warn(text(m)),
    debug: (m: unknown) => log.debug(text(m)),
  };
}

async function createSchema(db: Knex, schema: string): Promise<void> {
  try {
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  } catch (err) {
    // Two replicas starting at once can both pass IF NOT EXISTS; the loser sees a duplicate.
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') throw err;
  }
}

/**
 * Runs `run` again (up to `attempts` times, after a short random pause) when PostgreSQL rolled
 * it back as a deadlock's victim (40P01): work that must lock shared rows in an order it
 * cannot always choose (the registry's model counts, bookings racing for one job). `run` must
 * be safe to start over: everything its transaction did was rolled back.
 */
export async function retryDeadlocks<T>(run: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if ((err as { code?: string }).code !== '40P01' || attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  }
}

/** A transaction run with retryDeadlocks. */
export const transactionRetryingDeadlocks = <T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> =>
  retryDeadlocks(() => db.transaction(fn));

/**
 * Runs `fn` once `db` has committed when it is a transaction (never on rollback), or at
 * once otherwise: for work that must see the transaction's writes (waking a relay, a
 * recomputation).
 */
export function afterCommit(db: Knex, fn: () => void): void {
  const commit = (db as unknown as { executionPromise?: Promise<unknown> }).executionPromise;
  if (commit) commit.then(fn, () => undefined);
  else fn();
}

/**
 * Deletes the rows of `table` that `where` picks, at most `batch` per statement (chosen by
 * the key columns, so each statement is an index walk), until none is left: every statement
 * stays far inside the statement deadline and holds its locks briefly, however much has piled
 * up. Returns how many rows went.
 */
export async function deleteInBatches(
  db: Knex, table: string, key: string[], where: (q: Knex.QueryBuilder) => Knex.QueryBuilder, batch = 10_000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await db(table).whereIn(key, where(db(table).select(key)).limit(batch)).del();
    total += deleted;
    if (deleted < batch) return total;
  }
}
