import { ROLES } from '../../../lib/apiKeys';
import { Role } from '../../../lib/caller';
import type { Account, KeyInfo, LedgerEntry } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import type { AccountRow, KeyRow } from './accountsStore';
import type { EntryRow } from './ledgerStore';

export const accountMessage = (row: AccountRow): Account => ({
  accountId: row.account_id, role: ROLES[row.role] ?? Role.ROLE_UNSPECIFIED, displayName: row.display_name, status: row.status, createdAt: row.created_at,
});

export const keyMessage = (row: KeyRow): KeyInfo => ({
  keyId: row.key_id, accountId: row.account_id, label: row.label, createdAt: row.created_at,
  lastUsedAt: row.last_used_at ?? undefined, revokedAt: row.revoked_at ?? undefined,
});

export const entryMessage = (row: EntryRow & { reference: string | null }): LedgerEntry => ({
  entryId: row.entry_id, txId: row.tx_id, kind: row.kind, bucket: row.bucket, amountMicro: row.amount_micro,
  bookingId: row.booking_id ?? '', reference: row.reference ?? '', createdAt: row.created_at,
});
