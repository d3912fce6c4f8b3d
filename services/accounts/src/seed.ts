import { type KeyEntry } from '../../../lib/apiKeys';
import { DomainError } from '../../../lib/errors';
import type { Knex } from '../../../lib/db';
import { newEvent } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import { newId } from '../../../lib/ids';
import type { Logger } from '../../../lib/logger';
import type { AccountsStore } from './accountsStore';
import type { Ledger } from './ledger';
import { accountMessage, keyMessage } from './messages';
import { sha256 } from './rpc';

/**
 * Accounts and keys from AITBC_API_KEYS, at every start and idempotently: an account is
 * created once, a key added once (by its hash), and each seeded client account is credited
 * the opening balance once (a deposit with reference `opening:<account>`).
 */
export async function seedAccounts(deps: { db: Knex; accounts: AccountsStore; ledger: Ledger; outbox: Outbox; logger: Logger }, entries: KeyEntry[], openingBalanceMicro: number): Promise<void> {
  const { db, accounts, outbox } = deps;
  let created = 0;
  for (const e of entries) {
    await db.transaction(async (trx) => {
      const account = await accounts.create(trx, { account_id: e.account, role: e.role, display_name: e.account });
      if (account) {
        created++;
        await outbox.enqueue(trx, [newEvent('account.created', 'accounts', e.account, { account: accountMessage(account) })]);
      }
      const key = await accounts.addKey(trx, { key_id: newId('key'), account_id: e.account, key_sha256: sha256(e.key), label: 'AITBC_API_KEYS' });
      if (key.created) await outbox.enqueue(trx, [newEvent('account.key_created', 'accounts', e.account, { key: keyMessage(key) })]);
    });
    if (e.role === 'client' && openingBalanceMicro > 0) {
      // Once per account: an opening balance changed since it was given is not given again.
      await deps.ledger.deposit(e.account, openingBalanceMicro, `opening:${e.account}`, false).catch((err: unknown) => {
        if (!(err instanceof DomainError && err.code === 'ALREADY_EXISTS')) throw err;
      });
    }
  }
  if (created) deps.logger.info({ created }, 'accounts seeded from AITBC_API_KEYS');
}
