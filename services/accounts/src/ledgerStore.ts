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

/**
 * `?, ?, …` for a transaction's accounts: the statement's text then says how many it names
 * (a few), so PostgreSQL's generic plan for it is as good as a custom one and it is planned
 * once per connection; with `= ANY(?)` it guessed ten and planned every run (0.4 ms each).
 */
const inList = (accounts: string[]) => accounts.map(() => '?').join(', ');

const COLUMN = { available: 'available_micro', held: 'held_micro', earnings: 'earnings_micro' } as const;

/** PostgreSQL's check_violation: a balance would go below zero (or, EXACT_BALANCES, past 2^53 micro). */
export const BELOW_ZERO = '23514';
/** The constraint keeping every balance an exact JavaScript integer (migration 002). */
export const EXACT_BALANCES = 'balances_exact';

/**
 * Steps a recording statement runs first (`name AS (...)` entries of its WITH list), the SQL
 * condition on them for recording at all, what the statement returns of them (`select`), and
 * whether that says the condition held.
 */
export interface RecordGuard {
  lead: { sql: string; bindings: unknown[] };
  when: string;
  whenBindings?: unknown[];
  select: string;
  passed(row: Record<string, unknown>): boolean;
}

/** A ledger_transactions row as row_to_json gives it. */
const transactionRow = (j: Record<string, unknown>): TransactionRow => ({
  tx_id: j.tx_id as string, kind: j.kind as TransactionKind, reference: (j.reference as string | null) ?? null,
  booking_id: (j.booking_id as string | null) ?? null, created_at: new Date(j.created_at as string),
});

/** The ledger's SQL: journal, balances and booking holds, always changed in the caller's transaction. */
export const ledgerStore = {
  /**
   * Records a transaction, its entries, their effect on balances and `more.events`, in one
   * statement (atomic without a transaction: the hot paths pay one round trip). With a
   * reference it happens once: a second record of the same (kind, reference) changes nothing
   * and returns the first. `more.guard` adds steps before it (a hold's insert, say) and a
   * condition on them; when that condition fails nothing is recorded and `tx` is undefined.
   * The balances named are locked in account order before any changes (no deadlocks between
   * statements over the same accounts), and all must exist; one going below zero fails the
   * statement (check_violation).
   */
  async record(
    db: Knex, tx: { tx_id: string; kind: TransactionKind; reference?: string; booking_id?: string; created_at: Date }, entries: Entry[],
    more: { guard?: RecordGuard; events?: { sql: string; bindings: unknown[] }; inbox?: { sql: string; bindings: unknown[] } } = {},
  ): Promise<{ tx?: TransactionRow; replayed: boolean; row: Record<string, unknown> }> {
    checkBalanced(entries);
    const accounts = [...new Set(entries.map((e) => e.account))].sort();
    const deltas = new Map<string, Record<keyof typeof COLUMN, number>>();
    for (const e of entries) {
      const d = deltas.get(e.account) ?? { available: 0, held: 0, earnings: 0 };
      d[e.bucket] += e.amount;
      deltas.set(e.account, d);
    }
    const { guard, events, inbox } = more;
    // The lock step is a condition of the insert (an InitPlan), so it runs, in full and in
    // order, before the update below touches a balance.
    const { rows } = await db.raw(
      `WITH ${guard ? `${guard.lead.sql},` : ''}
       locked AS (SELECT account_id FROM balances WHERE account_id IN (${inList(accounts)}) ORDER BY account_id FOR UPDATE),
       tx AS (
         INSERT INTO ledger_transactions (tx_id, kind, reference, booking_id, created_at)
         SELECT ?, ?, ?, ?, ?::timestamptz WHERE ${guard ? `(${guard.when}) AND ` : ''}(SELECT count(*) FROM locked) = ?
         ON CONFLICT (kind, reference) DO NOTHING RETURNING *
       ), moved AS (
         UPDATE balances b SET available_micro = b.available_micro + d.available, held_micro = b.held_micro + d.held,
           earnings_micro = b.earnings_micro + d.earnings
         FROM (VALUES ${[...deltas].map(() => '(?, ?::bigint, ?::bigint, ?::bigint)').join(', ')}) d(account_id, available, held, earnings)
         WHERE b.account_id = d.account_id AND EXISTS (SELECT 1 FROM tx)
         RETURNING b.*
       ), written AS (
         INSERT INTO ledger_entries (tx_id, account_id, bucket, amount_micro, kind, booking_id, created_at)
         SELECT e.tx_id, e.account_id, e.bucket, e.amount, e.kind, e.booking_id, e.created_at
         FROM (VALUES ${entries.map(() => '(?, ?, ?, ?::bigint, ?, ?, ?::timestamptz)').join(', ')}) e(tx_id, account_id, bucket, amount, kind, booking_id, created_at)
         WHERE EXISTS (SELECT 1 FROM tx)
       )${events ? `, events AS (${events.sql})` : ''}${inbox ? `, inbox_claim AS (${inbox.sql})` : ''}
       SELECT (SELECT row_to_json(tx) FROM tx) AS tx, (SELECT count(*) FROM locked)::int AS locked${guard ? `, ${guard.select}` : ''}`,
      [
        ...(guard?.lead.bindings ?? []), ...accounts,
        tx.tx_id, tx.kind, tx.reference ?? null, tx.booking_id ?? null, tx.created_at, ...(guard?.whenBindings ?? []), accounts.length,
        ...[...deltas].flatMap(([account, d]) => [account, d.available, d.held, d.earnings]),
        ...entries.flatMap((e) => [tx.tx_id, e.account, e.bucket, e.amount, e.kind, tx.booking_id ?? null, tx.created_at]),
        ...(events?.bindings ?? []), ...(inbox?.bindings ?? []),
      ] as never,
    );
    const row = rows[0] as Record<string, unknown>;
    if (row.tx) return { tx: transactionRow(row.tx as Record<string, unknown>), replayed: false, row };
    if (guard && !guard.passed(row)) return { replayed: false, row };
    if (row.locked !== accounts.length) throw new Error(`a balance of ${accounts.join(', ')} is missing`);
    const first = tx.reference ? await db<TransactionRow>('ledger_transactions').where({ kind: tx.kind, reference: tx.reference }).first() : undefined;
    if (!first) throw new Error(`transaction ${tx.tx_id} was not recorded`);
    return { tx: first, replayed: true, row };
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
    /**
     * A record() guard placing a hold: the client must be an active client (with its balance
     * row, so the hold is never inserted without its money moving), the owner, when it has an
     * account already, a provider's or an admin's, and the hold is
     * inserted unless its booking has one already. Returns the hold, whether the client passed
     * and the client's balance after it.
     */
    placing(hold: Omit<HoldRow, 'created_at' | 'status' | 'deadline'> & { deadlineMs: number }): RecordGuard {
      return {
        lead: {
          sql: `client AS (
              SELECT 1 FROM accounts JOIN balances USING (account_id) WHERE account_id = ? AND status = 'active' AND role = 'client'
              AND NOT EXISTS (SELECT 1 FROM accounts o WHERE o.account_id = ? AND o.role NOT IN ('provider', 'admin'))),
            hold AS (
              INSERT INTO holds (booking_id, client_id, owner_id, amount_micro, status, gpu_id, miner_id, deadline)
              SELECT ?, ?, ?, ?::bigint, 'pending', ?, ?, now() + ? * interval '1 millisecond' WHERE EXISTS (SELECT 1 FROM client)
              ON CONFLICT (booking_id) DO NOTHING RETURNING *)`,
          bindings: [hold.client_id, hold.owner_id, hold.booking_id, hold.client_id, hold.owner_id, hold.amount_micro, hold.gpu_id, hold.miner_id, hold.deadlineMs],
        },
        when: 'EXISTS (SELECT 1 FROM hold)',
        select: '(SELECT row_to_json(hold) FROM hold) AS hold, EXISTS (SELECT 1 FROM client) AS client_ok, (SELECT row_to_json(moved) FROM moved) AS balance',
        passed: (row) => !!row.hold,
      };
    },
    /**
     * A record() guard settling a live hold of exactly this client, owner and amount; returns
     * it. Only when every account the entries name has its balance (accounts are never
     * deleted): the hold is then never settled without its entries, even outside a transaction.
     */
    settling(hold: Pick<HoldRow, 'booking_id' | 'client_id' | 'owner_id' | 'amount_micro'>, accounts: string[]): RecordGuard {
      return {
        lead: {
          sql: `hold AS (
              UPDATE holds SET status = 'settled', settled_at = now()
              WHERE booking_id = ? AND status IN ('pending', 'confirmed') AND client_id = ? AND owner_id = ? AND amount_micro = ?
                AND (SELECT count(*) FROM balances WHERE account_id IN (${inList(accounts)})) = ?
              RETURNING *)`,
          bindings: [hold.booking_id, hold.client_id, hold.owner_id, hold.amount_micro, ...accounts, accounts.length],
        },
        when: 'EXISTS (SELECT 1 FROM hold)',
        select: '(SELECT row_to_json(hold) FROM hold) AS hold',
        passed: (row) => !!row.hold,
      };
    },
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
    /** Confirms pending holds (their bookings exist); one statement. */
    async confirm(trx: Knex, bookingIds: string[]): Promise<void> {
      if (bookingIds.length) await trx('holds').whereIn('booking_id', bookingIds).where({ status: 'pending' }).update({ status: 'confirmed' });
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
