import type { Knex, Migration } from '../../../lib/db';

/**
 * Accounts, their keys (hashes only) and the double-entry ledger: an append-only journal
 * of transactions whose entries sum to zero, and per-account balances kept in the same
 * transaction as the entries. `world` (money entering and leaving the marketplace) and
 * `platform` (fees) are system accounts; only `world` may go below zero.
 */
export const migration001Accounts: Migration = {
  name: '001_accounts',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE accounts (
        account_id text PRIMARY KEY,
        role text NOT NULL CHECK (role IN ('client', 'provider', 'admin', 'service', 'system')),
        display_name text NOT NULL,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE api_keys (
        key_id text PRIMARY KEY,
        account_id text NOT NULL REFERENCES accounts,
        key_sha256 bytea NOT NULL UNIQUE,
        label text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      );
      CREATE INDEX api_keys_account ON api_keys (account_id, created_at);
      CREATE TABLE balances (
        account_id text PRIMARY KEY REFERENCES accounts,
        available_micro bigint NOT NULL DEFAULT 0,
        held_micro bigint NOT NULL DEFAULT 0,
        earnings_micro bigint NOT NULL DEFAULT 0,
        CHECK (account_id = 'world' OR (available_micro >= 0 AND held_micro >= 0 AND earnings_micro >= 0))
      );
      CREATE TABLE ledger_transactions (
        tx_id text PRIMARY KEY,
        kind text NOT NULL,
        reference text,
        booking_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (kind, reference)
      );
      CREATE TABLE ledger_entries (
        entry_id bigserial PRIMARY KEY,
        tx_id text NOT NULL REFERENCES ledger_transactions,
        account_id text NOT NULL REFERENCES accounts,
        bucket text NOT NULL CHECK (bucket IN ('available', 'held', 'earnings')),
        amount_micro bigint NOT NULL CHECK (amount_micro <> 0),
        kind text NOT NULL,
        booking_id text,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX ledger_entries_account ON ledger_entries (account_id, entry_id DESC);
      -- A booking's hold: placed when it is made, settled when it ends, given back if it never was.
      CREATE TABLE holds (
        booking_id text PRIMARY KEY,
        client_id text NOT NULL REFERENCES accounts,
        owner_id text NOT NULL,
        amount_micro bigint NOT NULL CHECK (amount_micro >= 0),
        status text NOT NULL CHECK (status IN ('pending', 'confirmed', 'settled', 'released')),
        deadline timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        settled_at timestamptz
      );
      CREATE INDEX holds_pending ON holds (created_at) WHERE status = 'pending';
      INSERT INTO accounts (account_id, role, display_name) VALUES ('world', 'system', 'outside the marketplace'), ('platform', 'system', 'platform fees');
      INSERT INTO balances (account_id) VALUES ('world'), ('platform');
    `);
  },
};
