import { afterCommit, type Knex } from '../../../lib/db';
import { DomainError } from '../../../lib/errors';
import { newEvent } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import type { InboxStep } from '../../../lib/events/statementEffect';
import type { Balance, LedgerTransaction } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import { newId } from '../../../lib/ids';
import { formatMoney } from '../../../lib/money';
import type { AccountsStore } from './accountsStore';
import * as rules from './domain/ledger';
import { BELOW_ZERO, EXACT_BALANCES, type BalanceRow, type HoldRow, type LedgerStore, type RecordGuard } from './ledgerStore';

export interface LedgerDeps {
  db: Knex;
  store: LedgerStore;
  accounts: AccountsStore;
  outbox: Outbox;
  /** The platform's fee on every charge, in basis points. */
  feeBp: number;
  /** How long a booking may take to be made after its hold. */
  holdDeadlineMs: number;
}

const lineKey = (e: rules.Entry | { account: string; bucket: string; amount: number }) => `${e.account}:${e.bucket}:${e.amount}`;
const sameEntries = (a: { account: string; bucket: string; amount: number }[], b: typeof a) =>
  a.length === b.length && a.map(lineKey).sort().join() === b.map(lineKey).sort().join();
const describe = (entries: { account: string; bucket: string; amount: number }[]) =>
  entries.filter((e) => e.amount > 0).map((e) => `${formatMoney(e.amount)} AITBC to ${e.account}`).join(', ');

export const balanceMessage = (b: BalanceRow | undefined, accountId: string): Balance => ({
  accountId, availableMicro: b?.available_micro ?? 0, heldMicro: b?.held_micro ?? 0, earningsMicro: b?.earnings_micro ?? 0,
});

/** What a booking.ended event says of the booking's money. */
export interface EndedBooking { bookingId: string; charged: number; refund: number; clientId?: string; ownerId?: string }

interface PlacedHold { bookingId: string; clientId: string; ownerId: string; amount: number; gpuId: string; minerId: string }
const holdRow = (h: PlacedHold) => ({ booking_id: h.bookingId, client_id: h.clientId, owner_id: h.ownerId, amount_micro: h.amount, gpu_id: h.gpuId, miner_id: h.minerId });
/** A holds row as row_to_json gives it. */
const holdOf = (j: unknown): HoldRow => {
  const r = j as HoldRow & { deadline: string; created_at: string };
  return { ...r, deadline: new Date(r.deadline), created_at: new Date(r.created_at) };
};

/**
 * Money that moves: each operation is one database transaction that writes its journal
 * entries (summing to zero), changes the balances and writes its ledger.transaction event.
 */
export function createLedger(deps: LedgerDeps) {
  const { db, store, outbox } = deps;
  const providers = new Set<string>();

  /**
   * Records `entries` as a transaction of `kind`, with its event, in one statement on `conn`;
   * the first one again for a reference seen before. With a guard, the statement's steps
   * before it decide whether anything is recorded (`transaction` undefined when not).
   */
  async function move(
    conn: Knex, kind: rules.TransactionKind, entries: rules.Entry[], ref: { reference?: string; bookingId?: string }, guard?: RecordGuard, inbox?: InboxStep,
  ) {
    const txId = newId('txn');
    const createdAt = new Date();
    const lines = (list: { account: string; bucket: string; amount: number }[]) => list.map((e) => ({ accountId: e.account, bucket: e.bucket, amountMicro: e.amount }));
    const made: LedgerTransaction = { txId, kind, reference: ref.reference ?? '', bookingId: ref.bookingId ?? '', createdAt, entries: lines(entries) };
    const events = outbox.part([newEvent('ledger.transaction', 'accounts', txId, { transaction: made })], 'EXISTS (SELECT 1 FROM tx)');
    let recorded;
    try {
      recorded = await store.record(conn, { tx_id: txId, kind, reference: ref.reference, booking_id: ref.bookingId, created_at: createdAt }, entries,
        { guard, events, inbox: inbox?.('EXISTS (SELECT 1 FROM hold)') });
    } catch (err) {
      const { code, constraint } = err as { code?: string; constraint?: string };
      if (code === BELOW_ZERO && constraint === EXACT_BALANCES) {
        throw new DomainError('FAILED_PRECONDITION', 'a balance would pass 9,007,199,254.740991 AITBC (2^53 micro-units), beyond exact accounting; single amounts are at most 9,000,000,000 AITBC, and the outside world\'s account counts too (no more than that can have come in, in all)', 'amount', { reason: 'balance_limit' });
      }
      if (code === BELOW_ZERO) throw new DomainError('FAILED_PRECONDITION', 'not enough balance for this', undefined, { reason: 'insufficient_funds' });
      throw err;
    }
    const { tx, replayed, row } = recorded;
    if (!tx) return { transaction: undefined, replayed: false, row };
    if (!replayed) {
      events.written(conn);
      return { transaction: made, replayed, row };
    }
    // A replay answers with the first transaction's entries, provided it is the same request
    // again: the same reference with other amounts or accounts is a conflict, not a replay.
    const first = (await store.entriesOf(conn, tx.tx_id)).map((e) => ({ account: e.account_id, bucket: e.bucket, amount: e.amount_micro }));
    if (!sameEntries(first, entries)) {
      throw new DomainError('ALREADY_EXISTS', `reference ${ref.reference} was used already for another ${kind} (${describe(first)})`, 'reference');
    }
    const transaction: LedgerTransaction = {
      txId: tx.tx_id, kind: tx.kind, reference: tx.reference ?? '', bookingId: tx.booking_id ?? '', createdAt: tx.created_at, entries: lines(first),
    };
    return { transaction, replayed, row };
  }

  /** The same as move(), for the callers that always record (no guard). */
  const moved = async (conn: Knex, kind: rules.TransactionKind, entries: rules.Entry[], ref: { reference?: string; bookingId?: string }) => {
    const { transaction, replayed } = await move(conn, kind, entries, ref);
    return { transaction: transaction!, replayed };
  };

  const withBalance = async (trx: Knex, accountId: string, result: { transaction: LedgerTransaction; replayed: boolean }) =>
    ({ ...result, balance: balanceMessage(await store.balance(trx, accountId), accountId) });

  return {
    /**
     * Money in. A request's reference is its account's (`<account>/<reference>`): one account's
     * references cannot collide with another's, nor with the opening deposits (`opening:<account>`,
     * `scoped: false`), which no request can name.
     */
    deposit: (accountId: string, amount: number, reference: string, scoped = true) => db.transaction(async (trx) =>
      withBalance(trx, accountId, await moved(trx, 'deposit', rules.deposit(accountId, rules.amountOf(amount)),
        { reference: scoped ? `${accountId}/${reference}` : reference }))),

    payout: (accountId: string, amount: number, requested: string) => db.transaction(async (trx) => {
      const reference = `${accountId}/${requested}`;
      const balance = await store.balance(trx, accountId, true);
      // A payout made already is answered again, whatever the earnings left now.
      const made = await store.transactionOf(trx, 'payout', reference);
      if (!made && (balance?.earnings_micro ?? 0) < amount) {
        throw new DomainError('FAILED_PRECONDITION', `a payout of ${formatMoney(amount)} AITBC is more than the ${formatMoney(balance?.earnings_micro ?? 0)} AITBC of earnings`,
          'amount', { earnings_micro: balance?.earnings_micro ?? 0 });
      }
      return withBalance(trx, accountId, await moved(trx, 'payout', rules.payout(accountId, rules.amountOf(amount)), { reference }));
    }),

    /**
     * Holds a booking's total from its client's available balance (once per booking: asking
     * again for the same booking answers with the first hold). Not enough balance: refused,
     * saying how much is missing, nothing held.
     */
    placeHold: async (hold: PlacedHold) => {
      // The hot path: the client's check, the hold, its journal entries, the balance and the
      // event in one statement. A hold asked for again, a zero amount or a refusal take the long way.
      if (hold.amount > 0) {
        try {
          const { transaction, row } = await move(db, 'hold', rules.hold(hold.clientId, hold.amount), { reference: hold.bookingId, bookingId: hold.bookingId },
            store.holds.placing({ ...holdRow(hold), deadlineMs: deps.holdDeadlineMs }));
          if (transaction && row.hold && row.balance) return { hold: holdOf(row.hold), balance: balanceMessage(row.balance as BalanceRow, hold.clientId) };
        } catch (err) {
          if (!(err instanceof DomainError && err.details?.reason === 'insufficient_funds')) throw err;
        }
      }
      return db.transaction((trx) => placeHoldIn(trx, hold));
    },

    /** Gives a pending hold back (its booking was not made); false when it is not pending (made, or given back already). */
    release: (bookingId: string) => db.transaction(async (trx) => releaseIn(trx, bookingId)),
    releaseIn,


    /**
     * A booking ended: its hold is settled, the charge to the owner (less the fee), the refund
     * back. With `inbox` (the consumer's step), first as one statement outside any transaction:
     * resolves to undefined, having written nothing, when it does not apply.
     */
    settle: async (trx: Knex, ended: EndedBooking, inbox?: InboxStep) => {
      // The hot path: the event says whose hold it is and what it holds (charged + refund), so
      // the hold's settlement, its entries, the event (and the inbox row) are one statement.
      // Anything it does not find as expected (a hold of another amount, settled already)
      // takes the long way, in a transaction.
      const { clientId, ownerId, charged, refund } = ended;
      if (clientId && ownerId && charged >= 0 && refund >= 0 && charged + refund > 0) {
        await ensureProvider(trx, ownerId);
        const entries = rules.settle({ client: clientId, owner: ownerId, held: charged + refund, charged, refund }, deps.feeBp);
        const hold = { booking_id: ended.bookingId, client_id: clientId, owner_id: ownerId, amount_micro: charged + refund };
        const { transaction, row } = await move(trx, 'settle', entries, { reference: ended.bookingId, bookingId: ended.bookingId },
          store.holds.settling(hold, [...new Set(entries.map((e) => e.account))]), inbox);
        if (transaction && row.hold) return holdOf(row.hold);
      }
      if (inbox) return undefined;
      const hold = await store.holds.settle(trx, ended.bookingId);
      if (!hold) return undefined;
      await ensureProvider(trx, hold.owner_id);
      const entries = rules.settle({ client: hold.client_id, owner: hold.owner_id, held: hold.amount_micro, charged: ended.charged, refund: ended.refund }, deps.feeBp);
      if (entries.length) await moved(trx, 'settle', entries, { reference: hold.booking_id, bookingId: hold.booking_id });
      return hold;
    },

    /** A client pays a booking's provider from its available balance; once per task. */
    pay: (clientId: string, hold: HoldRow, amount: number, taskId: string) => db.transaction(async (trx) => {
      await ensureProvider(trx, hold.owner_id);
      const reference = taskId ? `${hold.booking_id}:${taskId}` : undefined;
      return withBalance(trx, clientId, await moved(trx, 'payment', rules.payment(clientId, hold.owner_id, rules.amountOf(amount)), { reference, bookingId: hold.booking_id }));
    }),
  };

  /**
   * A provider is paid into an account of its own, made at its first earning. Owners known to
   * have one (created, or found, in a committed transaction) are not asked again: accounts are
   * never deleted.
   */
  async function ensureProvider(trx: Knex, ownerId: string): Promise<void> {
    if (providers.has(ownerId)) return;
    await deps.accounts.create(trx, { account_id: ownerId, role: 'provider', display_name: ownerId });
    afterCommit(trx, () => {
      if (providers.size >= 100_000) providers.clear();
      providers.add(ownerId);
    });
  }

  /** The long way of placeHold: each step its own statement, in a transaction. */
  async function placeHoldIn(trx: Knex, hold: PlacedHold) {
    const client = await deps.accounts.get(trx, hold.clientId);
    // Only an active client's money is held: never a provider's, a service's or the system accounts'.
    if (!client || client.status !== 'active' || client.role !== 'client') {
      throw new DomainError('FAILED_PRECONDITION', `account ${hold.clientId} cannot pay: it has no balance here`, 'client_id', { reason: 'insufficient_funds' });
    }
    // Earnings go to the owner at the end: never to a system, service or client account.
    const owner = await deps.accounts.get(trx, hold.ownerId);
    if (owner && owner.role !== 'provider' && owner.role !== 'admin') {
      throw new DomainError('FAILED_PRECONDITION', `account ${hold.ownerId} cannot be paid for a booking: it is not a provider`, 'owner_id');
    }
    const balance = await store.balance(trx, hold.clientId, true);
    const available = balance?.available_micro ?? 0;
    // Asked again for the same booking: the first hold is the answer (nothing held twice).
    const first = await store.holds.get(trx, hold.bookingId);
    if (first) return { hold: first, balance: balanceMessage(balance, hold.clientId) };
    if (available < hold.amount) {
      const missing = hold.amount - available;
      throw new DomainError('FAILED_PRECONDITION',
        `not enough balance: this booking costs ${formatMoney(hold.amount)} AITBC and ${formatMoney(available)} AITBC is available; ${formatMoney(missing)} AITBC is missing`,
        'total_cost', { reason: 'insufficient_funds', missing_micro: missing, available_micro: available, required_micro: hold.amount });
    }
    const row = (await store.holds.insert(trx, { ...holdRow(hold), deadlineMs: deps.holdDeadlineMs }))!;
    if (hold.amount > 0) await moved(trx, 'hold', rules.hold(hold.clientId, hold.amount), { reference: hold.bookingId, bookingId: hold.bookingId });
    return {
      hold: row,
      balance: balanceMessage({ ...balance!, available_micro: available - hold.amount, held_micro: balance!.held_micro + hold.amount }, hold.clientId),
    };
  }

  async function releaseIn(trx: Knex, bookingId: string): Promise<boolean> {
    const hold = await store.holds.get(trx, bookingId, true);
    if (!hold || hold.status !== 'pending') return false;
    if (hold.amount_micro > 0) await moved(trx, 'release', rules.release(hold.client_id, hold.amount_micro), { reference: bookingId, bookingId });
    await store.holds.setStatus(trx, bookingId, 'released');
    return true;
  }
}

export type Ledger = ReturnType<typeof createLedger>;
