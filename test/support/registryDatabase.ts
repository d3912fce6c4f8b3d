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
