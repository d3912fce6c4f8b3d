import { roleName } from '../../lib/caller';
import type { Account, Balance, KeyInfo, LedgerEntry, LedgerTransaction } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import { toUnits } from '../../lib/money';

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
