import { openDb, type Knex } from '../../lib/db';
import { registryMigrations } from '../../services/registry/migrations';
import { createTestDatabase } from './testDatabase';

/** A database of its own with the registry schema migrated, for tests of the registry's SQL. */
export async function registryTestDb(): Promise<{ db: Knex; close(): Promise<void> }> {
  const database = await createTestDatabase();
  const db = await openDb({ url: database.url, schema: 'registry', migrations: registryMigrations });
  return {
    db,
    close: async () => {
      await db.destroy();
      await database.drop();
    },
  };
}

/**
 * For a describe block: a registry database made before its tests and handed to `ready`
 * (to keep and to seed), dropped after them.
 */
export function registrySuiteDb(ready: (db: Knex) => Promise<void>): void {
  let handle: Awaited<ReturnType<typeof registryTestDb>> | undefined;
  before(async () => {
    handle = await registryTestDb();
    await ready(handle.db);
  });
  after(() => handle?.close());
}
