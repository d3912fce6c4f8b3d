import type { Knex } from '../../../lib/db';
import { checkBalanced, type Entry, type EntryKind, type TransactionKind } from './domain/ledger';

export interface BalanceRow {
  account_id: string;
  available_micro: number;
  held_micro: number;
  earnings_micro: number;
}

export interface TransactionRow {
  tx_id: string;
  kind: TransactionKind;
  reference: string | null;
  booking_id: string | null;
  created_at: Date;
}

export interface EntryRow {
  entry_id: number;
  tx_id: string;
  account_id: string;
  bucket: Entry['bucket'];
  amount_micro: number;
  kind: EntryKind;
  booking_id: string | null;
  created_at: Date;
}

export interface HoldRow {
  booking_id: string;
  client_id: string;
  owner_id: string;
  amount_micro: number;
  /** The GPU and miner the booking is on ('' for holds older than 003_miner_earnings). */
  gpu_id: string;
  miner_id: string;
  status: 'pending' | 'confirmed' | 'settled' | 'released';
  deadline: Date;
  created_at: Date;
}

const COLUMN = { available: 'available_micro', held: 'held_micro', earnings: 'earnings_micro' } as const;

/** PostgreSQL's check_violation: a balance would go below zero (or, EXACT_BALANCES, past 2^53 micro). */
export const BELOW_ZERO = '23514';
/** The constraint keeping every balance an exact JavaScript integer (migration 002). */
export const EXACT_BALANCES = 'balances_exact';

/** The ledger's SQL: journal, balances and booking holds, always changed in the caller's transaction. */
export const ledgerStore = {
  /**
   * Records a transaction, its entries and their effect on balances, in `trx` (every
   * account named has a balances row: accounts are created with one). With a
   * reference it happens once: a second record of the same (kind, reference) changes
   * nothing and returns the first. Balances are locked in account order (no deadlocks
   * between transactions over the same accounts); one going below zero fails the
   * transaction (check_violation).
   */
  async record(
    trx: Knex, tx: { tx_id: string; kind: TransactionKind; reference?: string; booking_id?: string }, entries: Entry[],
  ): Promise<{ tx: TransactionRow; replayed: boolean }> {
    checkBalanced(entries);
    const accounts = [...new Set(entries.map((e) => e.account))].sort();
    // Several balances: locked in account order first, so two transactions over the same
    // accounts never wait for each other in a circle. One balance: its update locks it.
    if (accounts.length > 1) await trx.raw('SELECT 1 FROM balances WHERE account_id = ANY(?) ORDER BY account_id FOR UPDATE', [accounts]);
    const deltas = new Map<string, Record<keyof typeof COLUMN, number>>();
    for (const e of entries) {
      const d = deltas.get(e.account) ?? { available: 0, held: 0, earnings: 0 };
      d[e.bucket] += e.amount;
      deltas.set(e.account, d);
    }
    // The transaction, its balances and its entries in one statement; nothing but the
    // transaction's own row when its reference was recorded before.
    const { rows } = await trx.raw(
      `WITH tx AS (
         INSERT INTO ledger_transactions (tx_id, kind, reference, booking_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (kind, reference) DO NOTHING RETURNING *
       ), moved AS (
         UPDATE balances b SET available_micro = b.available_micro + d.available, held_micro = b.held_micro + d.held,
           earnings_micro = b.earnings_micro + d.earnings
         FROM (VALUES ${[...deltas].map(() => '(?, ?::bigint, ?::bigint, ?::bigint)').join(', ')}) d(account_id, available, held, earnings)
         WHERE b.account_id = d.account_id AND EXISTS (SELECT 1 FROM tx)
       ), written AS (
         INSERT INTO ledger_entries (tx_id, account_id, bucket, amount_micro, kind, booking_id)
         SELECT e.tx_id, e.account_id, e.bucket, e.amount, e.kind, e.booking_id
         FROM (VALUES ${entries.map(() => '(?, ?, ?, ?::bigint, ?, ?)').join(', ')}) e(tx_id, account_id, bucket, amount, kind, booking_id)
         WHERE EXISTS (SELECT 1 FROM tx)
       )
       SELECT * FROM tx`,
      [
        tx.tx_id, tx.kind, tx.reference ?? null, tx.booking_id ?? null,
        ...[...deltas].flatMap(([account, d]) => [account, d.available, d.held, d.earnings]),
        ...entries.flatMap((e) => [tx.tx_id, e.account, e.bucket, e.amount, e.kind, tx.booking_id ?? null]),
      ],
    );
    if (rows.length) return { tx: rows[0], replayed: false };
    return { tx: (await trx<TransactionRow>('ledger_transactions').where({ kind: tx.kind, reference: tx.reference! }).first())!, replayed: true };
  },

  async transactionOf(db: Knex, kind: TransactionKind, reference: string): Promise<TransactionRow | undefined> {
    return db<TransactionRow>('ledger_transactions').where({ kind, reference }).first();
  },

  async entriesOf(db: Knex, txId: string): Promise<EntryRow[]> {
    return db<EntryRow>('ledger_entries').where({ tx_id: txId }).orderBy('entry_id');
  },

  async balance(db: Knex, accountId: string, lock = false): Promise<BalanceRow | undefined> {
    const q = db<BalanceRow>('balances').where({ account_id: accountId }).first();
    if (lock) q.forUpdate();
    return q;
  },

  /** An account's entries, newest first, after an entry id (keyset). */
  async statement(db: Knex, accountId: string, limit: number, beforeEntry?: number): Promise<(EntryRow & { reference: string | null })[]> {
    const q = db('ledger_entries as e').join('ledger_transactions as t', 't.tx_id', 'e.tx_id')
      .where('e.account_id', accountId).orderBy('e.entry_id', 'desc').limit(limit + 1)
      .select('e.*', 't.reference');
    if (beforeEntry !== undefined) q.where('e.entry_id', '<', beforeEntry);
    return q;
  },

  holds: {
    async insert(trx: Knex, hold: Omit<HoldRow, 'created_at' | 'status' | 'deadline'> & { deadlineMs: number }): Promise<HoldRow | undefined> {
      const [row] = await trx<HoldRow>('holds').insert({
        booking_id: hold.booking_id, client_id: hold.client_id, owner_id: hold.owner_id, amount_micro: hold.amount_micro, status: 'pending',
        gpu_id: hold.gpu_id, miner_id: hold.miner_id,
        deadline: trx.raw(`now() + ? * interval '1 millisecond'`, [hold.deadlineMs]) as never,
      }).onConflict('booking_id').ignore().returning('*');
      return row as HoldRow | undefined;
    },
    async get(trx: Knex, bookingId: string, lock = false): Promise<HoldRow | undefined> {
      const q = trx<HoldRow>('holds').where({ booking_id: bookingId }).first();
      if (lock) q.forUpdate();
      return q;
    },
    /** Marks a live hold settled and returns it (undefined: none, or settled or given back already); one statement. */
    async settle(trx: Knex, bookingId: string): Promise<HoldRow | undefined> {
      const [row] = await trx<HoldRow>('holds').where({ booking_id: bookingId }).whereIn('status', ['pending', 'confirmed'])
        .update({ status: 'settled', settled_at: trx.fn.now() } as never).returning('*');
      return row as HoldRow | undefined;
    },
    /** Confirms a pending hold (its booking exists); one statement. */
    async confirm(trx: Knex, bookingId: string): Promise<void> {
      await trx('holds').where({ booking_id: bookingId, status: 'pending' }).update({ status: 'confirmed' });
    },
    async setStatus(trx: Knex, bookingId: string, status: HoldRow['status']): Promise<void> {
      await trx('holds').where({ booking_id: bookingId })
        .update({ status, ...(status === 'settled' || status === 'released' ? { settled_at: trx.fn.now() } : {}) });
    },
    /** Pending holds past their deadline by `graceMs`, oldest first (locked, SKIP LOCKED: replicas share them). */
    async overdue(trx: Knex, graceMs: number, limit: number): Promise<HoldRow[]> {
      return trx<HoldRow>('holds').where({ status: 'pending' })
        .whereRaw(`deadline < now() - ? * interval '1 millisecond'`, [graceMs])
        .orderBy('created_at').limit(limit).forUpdate().skipLocked();
    },
  },
};

export type LedgerStore = typeof ledgerStore;
