import { invalid } from '../../../../lib/errors';
import { MAX_AMOUNT_MICRO, mulDivRound } from '../../../../lib/money';

/** Where money sits in an account. */
export type Bucket = 'available' | 'held' | 'earnings';
export type TransactionKind = 'deposit' | 'hold' | 'settle' | 'release' | 'payout' | 'payment';
/** What an entry is, on a statement. */
export type EntryKind = 'deposit' | 'hold' | 'charge' | 'refund' | 'fee' | 'release' | 'payout' | 'payment';

/** One change to one balance; a transaction's entries always sum to zero. */
export interface Entry {
  account: string;
  bucket: Bucket;
  amount: number;
  kind: EntryKind;
}

/** Money from outside (deposits) and to outside (payouts) comes from and goes to `world`. */
export const WORLD = 'world';
/** The platform's fees are its earnings. */
export const PLATFORM = 'platform';
/** Deposits, holds and payouts are at most this (9 billion AITBC): sums stay exact integers. */

/** A positive whole number of micro-AITBC, or INVALID_ARGUMENT naming `field`. */
export function amountOf(micro: number, field = 'amount'): number {
  if (!Number.isSafeInteger(micro) || micro <= 0 || micro > MAX_AMOUNT_MICRO) throw invalid(field, 'must be a positive amount of AITBC with at most 6 decimals');
  return micro;
}

/** A deposit: money received for `account` from outside. */
export const deposit = (account: string, amount: number): Entry[] => [
  { account: WORLD, bucket: 'available', amount: -amount, kind: 'deposit' },
  { account, bucket: 'available', amount, kind: 'deposit' },
];

/** A booking's hold: its total moves from the client's available balance to held. */
export const hold = (client: string, amount: number): Entry[] => [
  { account: client, bucket: 'available', amount: -amount, kind: 'hold' },
  { account: client, bucket: 'held', amount, kind: 'hold' },
];

/** A hold whose booking was never made, given back. */
export const release = (client: string, amount: number): Entry[] => [
  { account: client, bucket: 'held', amount: -amount, kind: 'release' },
  { account: client, bucket: 'available', amount, kind: 'release' },
];

/** The platform's fee of a charge: `feeBp` basis points, rounded half up to the micro-AITBC. */
export const feeOf = (charged: number, feeBp: number): number => mulDivRound(charged, feeBp, 10_000);

/**
 * A booking that ended, settled: its hold (charged + refund) leaves held; the charge goes to
 * the GPU owner's earnings less the platform fee (its own entry), the refund back to available.
 */
export function settle(booking: { client: string; owner: string; held: number; charged: number; refund: number }, feeBp: number): Entry[] {
  const { client, owner, held, charged, refund } = booking;
  if (charged < 0 || refund < 0 || charged + refund !== held) {
    throw new Error(`booking settles ${charged} + ${refund}, but ${held} is held for it`);
  }
  const fee = feeOf(charged, feeBp);
  const entries: Entry[] = [
    { account: client, bucket: 'held', amount: -charged, kind: 'charge' },
    { account: owner, bucket: 'earnings', amount: charged - fee, kind: 'charge' },
    { account: PLATFORM, bucket: 'earnings', amount: fee, kind: 'fee' },
    { account: client, bucket: 'held', amount: -refund, kind: 'refund' },
    { account: client, bucket: 'available', amount: refund, kind: 'refund' },
  ];
  return entries.filter((e) => e.amount !== 0);
}

/** A payout: a provider's earnings leave the marketplace. */
export const payout = (account: string, amount: number): Entry[] => [
  { account, bucket: 'earnings', amount: -amount, kind: 'payout' },
  { account: WORLD, bucket: 'available', amount, kind: 'payout' },
];

/** A client pays a booking's provider directly (the CLI's `gpu pay`). */
export const payment = (client: string, owner: string, amount: number): Entry[] => [
  { account: client, bucket: 'available', amount: -amount, kind: 'payment' },
  { account: owner, bucket: 'earnings', amount, kind: 'payment' },
];

/** Every transaction balances: a journal that does not sum to zero is a bug, refused before it is written. */
export function checkBalanced(entries: Entry[]): Entry[] {
  const sum = entries.reduce((s, e) => s + e.amount, 0);
  if (sum !== 0) throw new Error(`ledger transaction does not balance: entries sum to ${sum}`);
  return entries;
}
