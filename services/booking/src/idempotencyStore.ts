import { deleteInBatches, type Knex } from '../../../lib/db';

/** Idempotency keys of booking requests: the first answer, kept so a retry gets it again. */
export const idempotencyStore = {
  async find(db: Knex, accountId: string, key: string): Promise<{ request_hash: string; response: Buffer | null } | undefined> {
    return db('idempotency_keys').where({ account_id: accountId, key }).first('request_hash', 'response');
  },
  /** Claims a key; false when it exists (waits for a concurrent claim to commit or roll back). */
  async claim(db: Knex, accountId: string, key: string, requestHash: string): Promise<boolean> {
    const rows = await db('idempotency_keys')
      .insert({ account_id: accountId, key, request_hash: requestHash })
      .onConflict(['account_id', 'key'])
      .ignore()
      .returning('key');
    return rows.length > 0;
  },
  async saveResponse(db: Knex, accountId: string, key: string, response: Buffer): Promise<void> {
    await db('idempotency_keys').where({ account_id: accountId, key }).update({ response });
  },
  /** Keys are kept at least 24 hours; this drops those older than `olderThanMs`. */
  async prune(db: Knex, olderThanMs: number): Promise<number> {
    const before = new Date(Date.now() - olderThanMs);
    return deleteInBatches(db, 'idempotency_keys', ['account_id', 'key'], (q) => q.where('created_at', '<', before));
  },
};

export type IdempotencyStore = typeof idempotencyStore;
