import type { Knex } from '../../../lib/db';

export interface AccountRow {
  account_id: string;
  role: string;
  display_name: string;
  status: string;
  created_at: Date;
}

export interface KeyRow {
  key_id: string;
  account_id: string;
  label: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const KEY_COLUMNS = ['key_id', 'account_id', 'label', 'created_at', 'last_used_at', 'revoked_at'];

/** The SQL of accounts and their keys (keys as SHA-256 hashes only). */
export const accountsStore = {
  /** Creates an account (and its balances); false when the id is taken. */
  async create(db: Knex, account: { account_id: string; role: string; display_name: string }): Promise<AccountRow | undefined> {
    const [row] = await db<AccountRow>('accounts').insert(account).onConflict('account_id').ignore().returning('*');
    if (row) await db('balances').insert({ account_id: row.account_id }).onConflict('account_id').ignore();
    return row;
  },

  async get(db: Knex, accountId: string): Promise<AccountRow | undefined> {
    return db<AccountRow>('accounts').where({ account_id: accountId }).first();
  },

  /** Adds a key unless its hash is known (seeding is idempotent); the key row, new or not. */
  async addKey(db: Knex, key: { key_id: string; account_id: string; key_sha256: Buffer; label: string }): Promise<KeyRow & { created: boolean }> {
    const [row] = await db('api_keys').insert(key).onConflict('key_sha256').ignore().returning(KEY_COLUMNS);
    if (row) return { ...row, created: true };
    return { ...(await db('api_keys').where({ key_sha256: key.key_sha256 }).first(KEY_COLUMNS)), created: false };
  },

  async keys(db: Knex, accountId: string): Promise<KeyRow[]> {
    return db('api_keys').where({ account_id: accountId }).orderBy('created_at').select(KEY_COLUMNS);
  },

  /** Whether the key with this hash is live, its row locked (FOR UPDATE) until the transaction ends. */
  async liveKeyLocked(trx: Knex, keySha256: Buffer): Promise<boolean> {
    const row = await trx('api_keys').where({ key_sha256: keySha256 }).forUpdate().first('revoked_at');
    return row !== undefined && row.revoked_at === null;
  },

  /** The account's live keys, counted with its row locked (FOR UPDATE): one key is added at a time. */
  async liveKeys(trx: Knex, accountId: string): Promise<number> {
    await trx('accounts').where({ account_id: accountId }).forUpdate().first('account_id');
    return Number((await trx('api_keys').where({ account_id: accountId }).whereNull('revoked_at').count({ n: '*' }))[0].n);
  },

  async key(db: Knex, keyId: string): Promise<KeyRow | undefined> {
    return db('api_keys').where({ key_id: keyId }).first(KEY_COLUMNS);
  },

  /** Revokes a key (once: a second revoke keeps the first time). */
  async revoke(db: Knex, keyId: string): Promise<KeyRow | undefined> {
    const [row] = await db('api_keys').where({ key_id: keyId })
      // clock_timestamp(): when the row was changed, after any mint holding it committed (a
      // transaction's now() is its start, which may come before that mint).
      .update({ revoked_at: db.raw('coalesce(revoked_at, clock_timestamp())') }).returning(KEY_COLUMNS);
    return row;
  },

  /**
   * The account a key hash belongs to, when the key is not revoked and the account active;
   * marks the key used (at most once a minute: a statement per lookup would be a write per
   * cache miss, and minute precision is what "last used" is for).
   */
  async authenticate(db: Knex, keySha256: Buffer): Promise<{ key_id: string; account_id: string; role: string } | undefined> {
    const { rows } = await db.raw(
      `WITH k AS (
         SELECT k.key_id, a.account_id, a.role FROM api_keys k JOIN accounts a USING (account_id)
         WHERE k.key_sha256 = ? AND k.revoked_at IS NULL AND a.status = 'active'
       ), touched AS (
         UPDATE api_keys SET last_used_at = now()
         WHERE key_id = (SELECT key_id FROM k) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
       )
       SELECT * FROM k`,
      [keySha256],
    );
    return rows[0];
  },
};

export type AccountsStore = typeof accountsStore;
