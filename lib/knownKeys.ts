import { createHash } from 'node:crypto';
import type { Knex, Migration } from './db';

/**
 * Keys the fleet's gateways authenticated lately, as SHA-256 hashes (never the keys), so a
 * key one gateway knows is not held back by another that has not seen it yet (just
 * restarted, say) while its address is throttled for unknown keys.
 */
export interface KnownKeys {
  /** Whether any gateway authenticated this key in the last KNOWN_FOR_MS. */
  known(presented: string): Promise<boolean>;
  /** Records a key just authenticated (at most once a minute per key and process). */
  remember(presented: string): void;
}

const KNOWN_FOR_MS = 10 * 60_000;
const REWRITE_MS = 60_000;

export const knownKeysMigration: Migration = {
  name: '002_known_keys',
  async up(db: Knex) {
    await db.raw('CREATE TABLE known_keys (key_hash text PRIMARY KEY, seen_at timestamptz NOT NULL)');
  },
};

const hashOf = (key: string) => createHash('sha256').update(key).digest('hex');

export function postgresKnownKeys(db: Knex): KnownKeys {
  const written = new Map<string, number>();
  let prunedAt = 0;
  return {
    async known(presented) {
      const { rows } = await db.raw('SELECT 1 FROM known_keys WHERE key_hash = ? AND seen_at > now() - make_interval(secs => ?)',
        [hashOf(presented), KNOWN_FOR_MS / 1000]).catch(() => ({ rows: [] }));
      return rows.length > 0;
    },
    remember(presented) {
      const hash = hashOf(presented);
      const now = Date.now();
      if (now - (written.get(hash) ?? 0) < REWRITE_MS) return;
      written.set(hash, now);
      // Forget keys not written for a while: the map stays as small as the active set.
      if (written.size > 100_000) for (const [h, at] of written) if (now - at > REWRITE_MS) written.delete(h);
      void db.raw('INSERT INTO known_keys VALUES (?, now()) ON CONFLICT (key_hash) DO UPDATE SET seen_at = now()', [hash]).catch(() => undefined);
      // Hashes of keys nobody used for a day go (an hourly delete, by any gateway).
      if (now - prunedAt > 3600_000) {
        prunedAt = now;
        void db.raw("DELETE FROM known_keys WHERE seen_at < now() - interval '1 day'").catch(() => undefined);
      }
    },
  };
}
