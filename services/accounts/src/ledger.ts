import type { Knex } from '../../../lib/db';
import { DomainError } from '../../../lib/errors';
import { newEvent } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import type { Balance, LedgerTransaction } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import { newId } from '../../../lib/ids';
import { formatMoney } from '../../../lib/money';
import type { AccountsStore } from './accountsStore';
import * as rules from './domain/ledger';
import { BELOW_ZERO, EXACT_BALANCES, type BalanceRow, type HoldRow, type LedgerStore } from './ledgerStore';

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

/**
 * Money that moves: each operation is one database transaction that writes its journal
 * entries (summing to zero), changes the balances and writes its ledger.transaction event.
 */
export function createLedger(deps: LedgerDeps) {
  const { db, store, outbox } = deps;

  /** Records `entries` as a transaction of `kind` in `trx`, with its event; the first one again for a reference seen before. */
  async function move(trx: Knex, kind: rules.TransactionKind, entries: rules.Entry[], ref: { reference?: string; bookingId?: string }) {
    let recorded;
    try {
      recorded = await store.record(trx, { tx_id: newId('txn'), kind, reference: ref.reference, booking_id: ref.bookingId }, entries);
    } catch (err) {
      const { code, constraint } = err as { code?: string; constraint?: string };
      if (code === BELOW_ZERO && constraint === EXACT_BALANCES) {
        throw new DomainError('FAILED_PRECONDITION', 'a balance would pass 9,007,199,254.740991 AITBC (2^53 micro-units), beyond exact accounting; single amounts are at most 9,000,000,000 AITBC, and the outside world\'s account counts too (no more than that can have come in, in all)', 'amount', { reason: 'balance_limit' });
      }
      if (code === BELOW_ZERO) throw new DomainError('FAILED_PRECONDITION', 'not enough balance for this', undefined, { reason: 'insufficient_funds' });
      throw err;
    }
    // A replay answers with the first transaction's entries, provided it is the same request
    // again: the same reference with other amounts or accounts is a conflict, not a replay.
    const first = recorded.replayed ? (await store.entriesOf(trx, recorded.tx.tx_id)).map((e) => ({ account: e.account_id, bucket: e.bucket, amount: e.amount_micro })) : entries;
    if (recorded.replayed && !sameEntries(first, entries)) {
      throw new DomainError('ALREADY_EXISTS', `reference ${ref.reference} was used already for another ${kind} (${describe(first)})`, 'reference');
    }
    const lines = first.map((e) => ({ accountId: e.account, bucket: e.bucket, amountMicro: e.amount }));
    const transaction: LedgerTransaction = {
      txId: recorded.tx.tx_id, kind: recorded.tx.kind, reference: recorded.tx.reference ?? '', bookingId: recorded.tx.booking_id ?? '',
      createdAt: recorded.tx.created_at, entries: lines,
    };
    if (!recorded.replayed) await outbox.enqueue(trx, [newEvent('ledger.transaction', 'accounts', transaction.txId, { transaction })]);
    return { transaction, replayed: recorded.replayed };
  }

  const withBalance = async (trx: Knex, accountId: string, moved: { transaction: LedgerTransaction; replayed: boolean }) =>
    ({ ...moved, balance: balanceMessage(await store.balance(trx, accountId), accountId) });

  return {
    /**
     * Money in. A request's reference is its account's (`<account>/<reference>`): one account's
     * references cannot collide with another's, nor with the opening deposits (`opening:<account>`,
     * `scoped: false`), which no request can name.
     */
    deposit: (accountId: string, amount: number, reference: string, scoped = true) => db.transaction(async (trx) =>
      withBalance(trx, accountId, await move(trx, 'deposit', rules.deposit(accountId, rules.amountOf(amount)),
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
      return withBalance(trx, accountId, await move(trx, 'payout', rules.payout(accountId, rules.amountOf(amount)), { reference }));
    }),

    /**
     * Holds a booking's total from its client's available balance (once per booking: asking
     * again for the same booking answers with the first hold). Not enough balance: refused,
     * saying how much is missing, nothing held.
     */
    placeHold: (hold: { bookingId: string; clientId: string; ownerId: string; amount: number; gpuId: string; minerId: string }) => db.transaction(async (trx) => {
      const balance = await store.balance(trx, hold.clientId, true);
      const available = balance?.available_micro ?? 0;
      if (available < hold.amount) {
        const missing = hold.amount - available;
        throw new DomainError('FAILED_PRECONDITION',
          `not enough balance: this booking costs ${formatMoney(hold.amount)} AITBC and ${formatMoney(available)} AITBC is available; ${formatMoney(missing)} AITBC is missing`,
          'total_cost', { reason: 'insufficient_funds', missing_micro: missing, available_micro: available, required_micro: hold.amount });
      }
      const row = await store.holds.insert(trx, {
        booking_id: hold.bookingId, client_id: hold.clientId, owner_id: hold.ownerId, amount_micro: hold.amount, deadlineMs: deps.holdDeadlineMs,
        gpu_id: hold.gpuId, miner_id: hold.minerId,
      });
      // Asked again for the same booking: the first hold is the answer (nothing held twice).
      if (!row) return { hold: (await store.holds.get(trx, hold.bookingId))!, balance: balanceMessage(balance, hold.clientId) };
      if (hold.amount > 0) await move(trx, 'hold', rules.hold(hold.clientId, hold.amount), { reference: hold.bookingId, bookingId: hold.bookingId });
      return {
        hold: row,
        balance: balanceMessage({ ...balance!, available_micro: available - hold.amount, held_micro: balance!.held_micro + hold.amount }, hold.clientId),
      };
    }),

    /** Gives a pending hold back (its booking was not made); false when it is not pending (made, or given back already). */
    release: (bookingId: string) => db.transaction(async (trx) => releaseIn(trx, bookingId)),
    releaseIn,


    /** The booking exists: its hold stays until it ends. */
    confirm: (trx: Knex, bookingId: string) => store.holds.confirm(trx, bookingId),

    /** A booking ended: its hold is settled, the charge to the owner (less the fee), the refund back. */
    settle: async (trx: Knex, ended: { bookingId: string; charged: number; refund: number }) => {
      const hold = await store.holds.settle(trx, ended.bookingId);
      if (!hold) return undefined;
      await deps.accounts.create(trx, { account_id: hold.owner_id, role: 'provider', display_name: hold.owner_id });
      const entries = rules.settle({ client: hold.client_id, owner: hold.owner_id, held: hold.amount_micro, charged: ended.charged, refund: ended.refund }, deps.feeBp);
      if (entries.length) await move(trx, 'settle', entries, { reference: hold.booking_id, bookingId: hold.booking_id });
      return hold;
    },

    /** A client pays a booking's provider from its available balance; once per task. */
    pay: (clientId: string, hold: HoldRow, amount: number, taskId: string) => db.transaction(async (trx) => {
      await deps.accounts.create(trx, { account_id: hold.owner_id, role: 'provider', display_name: hold.owner_id });
      const reference = taskId ? `${hold.booking_id}:${taskId}` : undefined;
      return withBalance(trx, clientId, await move(trx, 'payment', rules.payment(clientId, hold.owner_id, rules.amountOf(amount)), { reference, bookingId: hold.booking_id }));
    }),
  };

  async function releaseIn(trx: Knex, bookingId: string): Promise<boolean> {
    const hold = await store.holds.get(trx, bookingId, true);
    if (!hold || hold.status !== 'pending') return false;
    if (hold.amount_micro > 0) await move(trx, 'release', rules.release(hold.client_id, hold.amount_micro), { reference: bookingId, bookingId });
    await store.holds.setStatus(trx, bookingId, 'released');
    return true;
  }
}

export type Ledger = ReturnType<typeof createLedger>;
