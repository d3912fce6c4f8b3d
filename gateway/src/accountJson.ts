import { roleName } from '../../lib/caller';
import type { Account, Balance, KeyInfo, LedgerEntry, LedgerTransaction } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import { toUnits } from '../../lib/money';
import { bool, int, named, num, object, ref, str, strOrNull, timeOrNull } from './answers';

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

export const accountJson = (a: Account) => ({
  account_id: a.accountId, role: roleName(a.role), display_name: a.displayName, status: a.status, created_at: iso(a.createdAt),
});

export const balanceJson = (b: Balance) => ({
  account_id: b.accountId, available: toUnits(b.availableMicro), held: toUnits(b.heldMicro), earnings: toUnits(b.earningsMicro),
});

/** A key as listed: never its secret. */
export const keyJson = (k: KeyInfo) => ({
  key_id: k.keyId, account_id: k.accountId, label: k.label || null, created_at: iso(k.createdAt),
  last_used_at: iso(k.lastUsedAt), revoked_at: iso(k.revokedAt),
});

export const entryJson = (e: LedgerEntry) => ({
  entry_id: e.entryId, tx_id: e.txId, kind: e.kind, bucket: e.bucket, amount: toUnits(e.amountMicro),
  booking_id: e.bookingId || null, reference: e.reference || null, created_at: iso(e.createdAt),
});

export const transactionJson = (t: LedgerTransaction) => ({
  tx_id: t.txId, kind: t.kind, reference: t.reference || null, booking_id: t.bookingId || null, created_at: iso(t.createdAt),
  entries: t.entries.map((e) => ({ account_id: e.accountId, bucket: e.bucket, amount: toUnits(e.amountMicro) })),
});

const role = { type: 'string', enum: ['client', 'provider', 'admin', 'service', 'system'] } as const;
const accountProperties = { account_id: str, role, display_name: str, status: { type: 'string', enum: ['active', 'suspended'] }, created_at: timeOrNull };
const keyProperties = { key_id: str, account_id: str, label: strOrNull, created_at: timeOrNull, last_used_at: timeOrNull, revoked_at: timeOrNull };
const transactionProperties = {
  tx_id: str, kind: str, reference: strOrNull, booking_id: strOrNull, created_at: timeOrNull,
  entries: { type: 'array', items: object({ account_id: str, bucket: { type: 'string', enum: ['available', 'held', 'earnings'] }, amount: num }) },
};

export const balanceSchema = named('Balance', "An account's money in AITBC: available to spend, held for bookings, earned (providers)",
  object({ account_id: str, available: num, held: num, earnings: num }), { account_id: 'alice', available: 993.6, held: 6.4, earnings: 0 });
export const accountSchema = named('Account', 'An account (with its balance where asked for)', object({ ...accountProperties, balance: ref('Balance') }, ['balance']),
  { account_id: 'alice', role: 'client', display_name: 'Alice', status: 'active', created_at: '2026-12-01T10:00:00.000Z' });
export const keySchema = named('Key', 'An API key as listed: never its secret', object(keyProperties));
export const newKeySchema = named('NewKey', 'A new API key: `key` is its secret, shown in this answer only', object({ ...keyProperties, key: str }));
export const ledgerEntrySchema = named('LedgerEntry', 'One entry of an account statement', object({
  entry_id: int, tx_id: str, kind: str, bucket: str, amount: num, booking_id: strOrNull, reference: strOrNull, created_at: timeOrNull,
}));
export const transactionSchema = named('Transaction', 'A ledger transaction (its entries sum to zero) and the balance after it', object({
  ...transactionProperties, balance: ref('Balance'), replayed: bool,
}), {
  tx_id: 'tx_4m6n8p0q2r4s6t8v0w2x', kind: 'deposit', reference: 'wire-2026-12-03-001', booking_id: null, created_at: '2026-12-03T09:00:00.000Z',
  entries: [{ account_id: 'world', bucket: 'available', amount: -100 }, { account_id: 'alice', bucket: 'available', amount: 100 }],
  balance: { account_id: 'alice', available: 1093.6, held: 6.4, earnings: 0 }, replayed: false,
});
