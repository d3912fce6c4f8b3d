import { generateKey, ROLES } from '../../../lib/apiKeys';
import { type Caller, isAccountId, requireCaller, Role } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid, notFound } from '../../../lib/errors';
import { newEvent } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import { AccountsServiceService, type AccountsServiceServer } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import type { ServiceBinding } from '../../../lib/grpcServer';
import { isMinerId } from '../../../lib/gpuLimits';
import { isId, newId } from '../../../lib/ids';
import { decodeCursor, encodeCursor } from '../../../lib/paging';
import { requireSafeText } from '../../../lib/text';
import { createHash, randomBytes } from 'node:crypto';
import type { AccountsStore } from './accountsStore';
import { amountOf, PLATFORM } from './domain/ledger';
import { balanceMessage, type Ledger } from './ledger';
import type { LedgerStore } from './ledgerStore';
import { createEarnings } from './earnings';
import { accountMessage, entryMessage, keyMessage } from './messages';

export interface AccountsHandlerDeps {
  /** The service accounts that may place and release booking holds (the booking service's). */
  holders: ReadonlySet<string>;
  db: Knex;
  accounts: AccountsStore;
  store: LedgerStore;
  ledger: Ledger;
  outbox: Outbox;
}

const ADMIN = [Role.ROLE_ADMIN];
const SERVICES = [Role.ROLE_SERVICE];
const USERS = [Role.ROLE_CLIENT, Role.ROLE_PROVIDER, Role.ROLE_ADMIN];
const CREATABLE: Record<number, string> = { [Role.ROLE_CLIENT]: 'client', [Role.ROLE_PROVIDER]: 'provider', [Role.ROLE_ADMIN]: 'admin' };
const SOURCE = 'accounts';
export const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** gRPC handlers of aitbc.marketplace.v1.AccountsService. */
/** Live (unrevoked) keys an account may hold at once: rotation needs two, not thousands. */
export const MAX_LIVE_KEYS = 20;

export function createAccountsHandlers(deps: AccountsHandlerDeps): ServiceBinding<AccountsServiceServer> {
  const { db, accounts, store, ledger, outbox } = deps;
  const earnings = createEarnings(db);

  /**
   * The account a call is about: the caller's own (empty id), or any for admin; another's is
   * "not found". `platform`: an admin may also read (and pay out) the platform's fee account.
   */
  async function accountFor(caller: Caller, accountId: string, platform = false) {
    const id = accountId || caller.accountId;
    if (id !== caller.accountId && caller.role !== Role.ROLE_ADMIN) throw notFound(`account ${id}`);
    const row = isAccountId(id) ? await accounts.get(db, id) : undefined;
    if (!row || (row.role === 'system' && !(platform && id === PLATFORM))) throw notFound(`account ${id}`);
    return row;
  }

  /** Holds move a client's money: only the booking service places and releases them, not any service key. */
  const requireHolder = (claimed: Caller | undefined) => {
    const caller = requireCaller(claimed, SERVICES);
    if (!deps.holders.has(caller.accountId)) throw new DomainError('PERMISSION_DENIED', `only the booking service places and releases holds, not ${caller.accountId}`);
  };

  const reference = (text: string, field = 'reference') => {
    const value = requireSafeText(field, text.trim());
    if (!value || value.length > 200) throw invalid(field, 'is required: 1-200 printable characters (it makes the request happen once)');
    return value;
  };

  return {
    definition: AccountsServiceService,
    implementation: {
      async authenticate(req) {
        requireCaller(req.caller, SERVICES);
        if (req.keySha256.length !== 32) throw invalid('key_sha256', 'must be 32 bytes');
        const found = await accounts.authenticate(db, Buffer.from(req.keySha256));
        if (!found) return { keyId: '' };
        return { account: { accountId: found.account_id, role: ROLES[found.role] ?? Role.ROLE_UNSPECIFIED }, keyId: found.key_id };
      },

      async createAccount(req) {
        requireCaller(req.caller, ADMIN);
        const role = CREATABLE[req.role];
        if (!role) throw invalid('role', 'must be client, provider or admin (service accounts come from AITBC_API_KEYS)');
        const accountId = req.accountId.trim() || `${role}-${randomBytes(6).toString('hex')}`;
        if (!isAccountId(accountId)) throw invalid('account_id', 'must be 1-64 letters, digits, ".", "_" or "-"');
        // The routes read "me" as the caller's own account: an account of that name could never be reached.
        if (accountId.toLowerCase() === 'me') throw invalid('account_id', '"me" is reserved: it names the caller\'s own account in /v1/accounts/me/…');
        const displayName = requireSafeText('display_name', req.displayName.trim() || accountId);
        if (displayName.length > 100) throw invalid('display_name', 'must be at most 100 characters');
        const row = await db.transaction(async (trx) => {
          const created = await accounts.create(trx, { account_id: accountId, role, display_name: displayName });
          if (!created) throw new DomainError('ALREADY_EXISTS', `account ${accountId} exists already`, 'account_id');
          await outbox.enqueue(trx, [newEvent('account.created', SOURCE, accountId, { account: accountMessage(created) })]);
          return created;
        });
        return { account: accountMessage(row) };
      },

      async getAccount(req) {
        const caller = requireCaller(req.caller, USERS);
        const row = await accountFor(caller, req.accountId);
        return { account: accountMessage(row), balance: balanceMessage(await store.balance(db, row.account_id), row.account_id) };
      },

      async createKey(req) {
        const caller = requireCaller(req.caller, USERS);
        const account = await accountFor(caller, req.accountId);
        if (account.role === 'service') throw invalid('account_id', 'service keys come from AITBC_API_KEYS');
        const label = requireSafeText('label', req.label.trim());
        if (label.length > 100) throw invalid('label', 'must be at most 100 characters');
        const secret = generateKey(account.role);
        const key = await db.transaction(async (trx) => {
          // The asking key, locked as a revocation locks it: a revocation that committed first
          // refuses this; one that comes later waits for this to commit (it came after).
          if (req.presenterKeySha256.length && !(await accounts.liveKeyLocked(trx, Buffer.from(req.presenterKeySha256)))) {
            throw new DomainError('UNAUTHENTICATED', 'the key asking was revoked');
          }
          // Counted under the account's row lock, so concurrent requests cannot pass the cap together.
          if ((await accounts.liveKeys(trx, account.account_id)) >= MAX_LIVE_KEYS) {
            throw new DomainError('FAILED_PRECONDITION', `account ${account.account_id} has ${MAX_LIVE_KEYS} live keys, the most it may have; revoke one first`, 'account_id');
          }
          const row = await accounts.addKey(trx, { key_id: newId('key'), account_id: account.account_id, key_sha256: sha256(secret), label });
          await outbox.enqueue(trx, [newEvent('account.key_created', SOURCE, account.account_id, { key: keyMessage(row) })]);
          return row;
        });
        return { key: keyMessage(key), secret };
      },

      async listKeys(req) {
        const caller = requireCaller(req.caller, USERS);
        const account = await accountFor(caller, req.accountId);
        return { keys: (await accounts.keys(db, account.account_id)).map(keyMessage) };
      },

      async revokeKey(req) {
        const caller = requireCaller(req.caller, USERS);
        const key = isId(req.keyId, 'key') ? await accounts.key(db, req.keyId) : undefined;
        const owned = key && (caller.role === Role.ROLE_ADMIN ? !req.accountId || key.account_id === req.accountId : key.account_id === caller.accountId);
        if (!key || !owned) throw notFound(`key ${req.keyId}`);
        const revoked = await db.transaction(async (trx) => {
          const row = (await accounts.revoke(trx, key.key_id))!;
          if (!key.revoked_at) await outbox.enqueue(trx, [newEvent('account.key_revoked', SOURCE, key.account_id, { key: keyMessage(row) })]);
          return row;
        });
        return { key: keyMessage(revoked) };
      },

      async deposit(req) {
        requireCaller(req.caller, ADMIN);
        const account = await accountFor(req.caller!, req.accountId);
        // Only a client spends a balance: money deposited anywhere else could never be used.
        if (account.role !== 'client') throw invalid('account_id', `deposits go to client accounts; ${account.account_id} is a ${account.role} account`);
        return ledger.deposit(account.account_id, amountOf(req.amountMicro), reference(req.reference));
      },

      async payout(req) {
        requireCaller(req.caller, ADMIN);
        const account = await accountFor(req.caller!, req.accountId, true);
        return ledger.payout(account.account_id, amountOf(req.amountMicro), reference(req.reference));
      },

      async getBalance(req) {
        const caller = requireCaller(req.caller, USERS);
        const account = await accountFor(caller, req.accountId, true);
        return { balance: balanceMessage(await store.balance(db, account.account_id), account.account_id) };
      },

      async listLedger(req) {
        const caller = requireCaller(req.caller, USERS);
        const account = await accountFor(caller, req.accountId, true);
        const limit = req.limit || 20;
        if (limit > 200) throw invalid('limit', 'must be from 1 to 200');
        const before = req.cursor ? Number(decodeCursor('ledger', req.cursor, [(v) => Number.isSafeInteger(v) && (v as number) > 0]).values[0]) : undefined;
        const rows = await store.statement(db, account.account_id, limit, before);
        const items = rows.slice(0, limit);
        const last = items[items.length - 1];
        return { entries: items.map(entryMessage), nextCursor: rows.length > limit ? encodeCursor('ledger', [last.entry_id], last.tx_id) : '' };
      },

      async placeHold(req) {
        requireHolder(req.caller);
        if (!isId(req.bookingId, 'bkg')) throw invalid('booking_id', 'must be a booking id');
        if (!isAccountId(req.clientId)) throw invalid('client_id', 'must be an account id');
        if (!isAccountId(req.ownerId)) throw invalid('owner_id', 'must be an account id');
        if (!Number.isSafeInteger(req.amountMicro) || req.amountMicro < 0) throw invalid('amount_micro', 'must be a whole, non-negative amount');
        if (req.gpuId && !isId(req.gpuId, 'gpu')) throw invalid('gpu_id', 'must be a GPU id');
        if (req.minerId && !isMinerId(req.minerId)) throw invalid('miner_id', 'must be a miner id');
        // Only an active client's money is held (the ledger checks): never a provider's, a service's or the system accounts'.
        const { hold, balance } = await ledger.placeHold({
          bookingId: req.bookingId, clientId: req.clientId, ownerId: req.ownerId, amount: req.amountMicro, gpuId: req.gpuId, minerId: req.minerId,
        });
        if (hold.client_id !== req.clientId || hold.amount_micro !== req.amountMicro || hold.owner_id !== req.ownerId) {
          throw new DomainError('ALREADY_EXISTS', `booking ${req.bookingId} already holds another amount, or for another client or owner`, 'booking_id');
        }
        // Asked again after its hold ended: nothing is held, and the answer must not say it is.
        if (hold.status === 'released' || hold.status === 'settled') {
          throw new DomainError('FAILED_PRECONDITION', `booking ${req.bookingId}'s hold was ${hold.status === 'released' ? 'given back' : 'settled'} already; nothing is held`, 'booking_id');
        }
        return { balance, deadline: hold.deadline };
      },

      async releaseHold(req) {
        requireHolder(req.caller);
        return { released: isId(req.bookingId, 'bkg') ? await ledger.release(req.bookingId) : false };
      },

      minerEarnings: (req) => earnings(requireCaller(req.caller, [Role.ROLE_PROVIDER, Role.ROLE_ADMIN]), req),

      async sendPayment(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT]);
        const hold = isId(req.bookingId, 'bkg') ? await store.holds.get(db, req.bookingId) : undefined;
        // A hold given back is a booking that was never made: there is nothing to pay for.
        if (!hold || hold.client_id !== caller.accountId || hold.status === 'released') throw notFound(`booking ${req.bookingId}`);
        const taskId = req.taskId ? requireSafeText('task_id', req.taskId.trim()) : '';
        if (taskId.length > 128) throw invalid('task_id', 'must be at most 128 characters');
        return ledger.pay(caller.accountId, hold, req.amountMicro, taskId);
      },
    },
  };
}

