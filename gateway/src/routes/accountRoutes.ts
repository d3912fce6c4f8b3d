import type { FastifyInstance } from 'fastify';
import { ROLES } from '../../../lib/apiKeys';
import { parseMoney } from '../../../lib/money';
import { accountJson, balanceJson, entryJson, keyJson, transactionJson } from '../accountJson';
import type { GatewayDeps } from '../deps';
import { callerOf, setNextLinks } from '../request';
import { answers, listOf, pageHeaders, ref } from '../answers';

const ADMIN = { roles: ['admin'] };
const USERS = { roles: ['client', 'provider', 'admin'] };
/** Requests whose effect would outlive a revocation of the key that made them: checked fresh. */
const ADMIN_FRESH = { ...ADMIN, freshKey: true };
const USERS_FRESH = { ...USERS, freshKey: true };
const accountParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const keyParams = { type: 'object', required: ['key_id'], properties: { key_id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const label = { type: ['object', 'null'], additionalProperties: false, properties: { label: { type: 'string', maxLength: 100 } } } as const;
const money = { type: 'object', additionalProperties: false, required: ['amount', 'reference'], properties: {
  amount: { type: ['number', 'string'], description: 'AITBC, at most 6 decimals' },
  reference: { type: 'string', minLength: 1, maxLength: 200, description: 'makes it happen once (a payment received, a transfer sent)' },
}, examples: [{ amount: 100, reference: 'wire-2026-12-03-001' }] } as const;
const ledgerQuery = { type: 'object', additionalProperties: false, properties: {
  limit: { type: 'integer', minimum: 1, maximum: 200, default: 20 }, cursor: { type: 'string', maxLength: 300 },
} } as const;

/** Accounts, keys, balances and statements; admin deposits and payouts. "me" is the caller's own account. */
export function accountRoutes(app: FastifyInstance, { accounts }: GatewayDeps): void {
  const caller = (request: Parameters<typeof callerOf>[0]) => callerOf(request);
  /** `me` names the caller's own account (the empty id the service takes for it). */
  const accountOf = (id: string) => (id === 'me' ? '' : id);

  app.post<{ Body: { role: string; display_name?: string; account_id?: string } }>('/v1/accounts', {
    schema: { summary: 'Admin: create a client, provider or admin account', body: { type: 'object', additionalProperties: false, required: ['role'], properties: {
      role: { type: 'string', enum: ['client', 'provider', 'admin'] }, display_name: { type: 'string', maxLength: 100 }, account_id: { type: 'string', maxLength: 64 },
    }, examples: [{ role: 'client', display_name: 'Alice', account_id: 'alice' }] }, response: answers(201, 'created', ref('Account'), { problems: [409] }) },
    config: ADMIN_FRESH,
  }, async (request, reply) => {
    const { account } = await accounts.createAccount({
      caller: caller(request), role: ROLES[request.body.role], displayName: request.body.display_name ?? '', accountId: request.body.account_id ?? '',
    });
    return reply.code(201).send(accountJson(account!));
  });

  app.get<{ Params: { id: string } }>('/v1/accounts/:id', {
    schema: { summary: 'An account and its balance (`me`: your own; others: admin)', params: accountParams, response: answers(200, 'the account', ref('Account')) }, config: USERS,
  }, async (request) => {
    const { account, balance } = await accounts.getAccount({ caller: caller(request), accountId: accountOf(request.params.id) });
    return { ...accountJson(account!), balance: balanceJson(balance!) };
  });

  app.post<{ Params: { id: string }; Body: { label?: string } | null }>('/v1/accounts/:id/keys', {
    schema: {
      summary: 'A new API key (`me`: a second key of yours, for rotation); the secret is shown in this answer only', params: accountParams, body: label,
      response: answers(201, 'the key, with its secret', ref('NewKey'), { problems: [409] }),
    },
    config: USERS_FRESH,
  }, async (request, reply) => {
    const { key, secret } = await accounts.createKey({
      caller: caller(request), accountId: accountOf(request.params.id), label: request.body?.label ?? '', presenterKeySha256: request.keySha256 ?? Buffer.alloc(0),
    });
    return reply.code(201).send({ ...keyJson(key!), key: secret });
  });

  app.get<{ Params: { id: string } }>('/v1/accounts/:id/keys', {
    schema: { summary: "An account's keys, never their secrets", params: accountParams, response: answers(200, 'the keys', listOf('Key')) }, config: USERS,
  }, async (request) => (await accounts.listKeys({ caller: caller(request), accountId: accountOf(request.params.id) })).keys.map(keyJson));

  app.delete<{ Params: { key_id: string } }>('/v1/keys/:key_id', {
    schema: { summary: 'Admin: revoke any key (it stops working within 2 s)', params: keyParams, response: answers(200, 'revoked', ref('Key')) }, config: ADMIN,
  }, async (request) => keyJson((await accounts.revokeKey({ caller: caller(request), keyId: request.params.key_id, accountId: '' })).key!));

  app.delete<{ Params: { key_id: string } }>('/v1/accounts/me/keys/:key_id', {
    schema: { summary: 'Revoke one of your own keys (it stops working within 2 s)', params: keyParams, response: answers(200, 'revoked', ref('Key'), { problems: [409] }) }, config: USERS,
  }, async (request) => {
    const me = caller(request);
    return keyJson((await accounts.revokeKey({ caller: me, keyId: request.params.key_id, accountId: me.accountId })).key!);
  });

  for (const [path, summary, call] of [
    ['deposits', 'Admin: credit an account (once per reference: it stands for a payment received)', 'deposit'],
    ['payouts', "Admin: pay out an account's earnings (never more than it holds; once per reference)", 'payout'],
  ] as const) {
    app.post<{ Params: { id: string }; Body: { amount: number | string; reference: string } }>(`/v1/accounts/:id/${path}`, {
      schema: {
        summary, params: accountParams, body: money,
        response: answers(201, 'done', ref('Transaction'), {
          problems: [409], also: { 200: 'the same reference again: the first answer (Idempotent-Replayed: true)' },
          headers: { 'Idempotent-Replayed': { type: 'string', description: '"true" when the reference was used before' } },
        }),
      }, config: ADMIN_FRESH,
    }, async (request, reply) => {
      const res = await accounts[call]({
        caller: caller(request), accountId: request.params.id, amountMicro: parseMoney(request.body.amount, 'amount'), reference: request.body.reference,
      });
      if (res.replayed) reply.header('Idempotent-Replayed', 'true');
      return reply.code(res.replayed ? 200 : 201).send({ ...transactionJson(res.transaction!), balance: balanceJson(res.balance!), replayed: res.replayed });
    });
  }

  app.get<{ Params: { id: string } }>('/v1/accounts/:id/balance', {
    schema: { summary: '{available, held, earnings} (`me`: yours; others: admin)', params: accountParams, response: answers(200, 'the balance', ref('Balance')) }, config: USERS,
  }, async (request) => balanceJson((await accounts.getBalance({ caller: caller(request), accountId: accountOf(request.params.id) })).balance!));

  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string } }>('/v1/accounts/:id/ledger', {
    schema: {
      summary: 'Statement: entries newest first, each naming its booking (`me`: yours; others: admin)', params: accountParams, querystring: ledgerQuery,
      response: answers(200, 'a page of entries', listOf('LedgerEntry'), { headers: pageHeaders }),
    },
    config: USERS,
  }, async (request, reply) => {
    const res = await accounts.listLedger({ caller: caller(request), accountId: accountOf(request.params.id), limit: request.query.limit, cursor: request.query.cursor ?? '' });
    if (res.nextCursor) setNextLinks(request, reply, res.nextCursor);
    return res.entries.map(entryJson);
  });

  app.post<{ Body: { booking_id: string; amount: number | string; from_wallet?: string; to_wallet?: string; task_id?: string } }>('/v1/payments/send', {
    schema: { summary: "Pay a booking's provider from your balance (the CLI's `gpu pay`); a task id makes it happen once", body: {
      type: 'object', additionalProperties: false, required: ['booking_id', 'amount'], properties: {
        booking_id: { type: 'string', minLength: 1, maxLength: 64 }, amount: { type: ['number', 'string'] },
        from_wallet: { type: 'string', maxLength: 200 }, to_wallet: { type: 'string', maxLength: 200 }, task_id: { type: 'string', maxLength: 128 },
      },
      examples: [{ booking_id: 'bkg_2h4j6k8m0n2p4q6r8s0t', amount: 1.5, task_id: 'task-42' }],
    }, response: answers(201, 'paid', ref('Transaction'), { problems: [402, 409], also: { 200: 'the same task again: the first answer' } }) },
    config: { roles: ['client'], freshKey: true },
  }, async (request, reply) => {
    const res = await accounts.sendPayment({
      caller: caller(request), bookingId: request.body.booking_id, amountMicro: parseMoney(request.body.amount, 'amount'), taskId: request.body.task_id ?? '',
    });
    return reply.code(res.replayed ? 200 : 201).send({ ...transactionJson(res.transaction!), balance: balanceJson(res.balance!), replayed: res.replayed });
  });
}
