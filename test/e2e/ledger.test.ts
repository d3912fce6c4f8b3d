import assert from 'node:assert/strict';
import { waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { Role } from '../../lib/caller';
import type { DomainError } from '../../lib/errors';
import { AccountsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import { http, KEYS, startTestMesh, testClient, type TestMesh } from '../support/testMesh';

/** Money through the gateway: balances, holds, settlement with a 2.5% fee, deposits, payouts, payments. */
describe('accounts and the ledger through the gateway', function () {
  this.timeout(120_000);
  let mesh: TestMesh;
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const balance = async (key: string) => (await call('GET', '/v1/accounts/me/balance', { key })).body;
  const newGpu = async (price = 3.6, miner = 'ledger-rig') => {
    const res = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, headers: { 'X-Miner-ID': miner }, body: { gpu: { name: 'A100', memory_gb: 80, price_per_hour: price } } });
    assert.equal(res.status, 201);
    return res.body.gpu_id as string;
  };
  /** A new client account with a key and `deposit` AITBC. */
  const newClient = async (deposit: number) => {
    const account = await call('POST', '/v1/accounts', { key: KEYS.admin, body: { role: 'client', display_name: 'Ledger test' } });
    assert.equal(account.status, 201, JSON.stringify(account.body));
    const key = await call('POST', `/v1/accounts/${account.body.account_id}/keys`, { key: KEYS.admin, body: { label: 'test' } });
    assert.equal(key.status, 201);
    if (deposit) {
      const dep = await call('POST', `/v1/accounts/${account.body.account_id}/deposits`, { key: KEYS.admin, body: { amount: deposit, reference: `pay-${account.body.account_id}` } });
      assert.equal(dep.status, 201, JSON.stringify(dep.body));
    }
    return { id: account.body.account_id as string, key: key.body.key as string };
  };
  const settled = async () => waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to settle');

  before(async () => {
    mesh = await startTestMesh({ PLATFORM_FEE_BP: '250' }, { pricing: false });
  });
  after(() => mesh?.stop());

  it('holds a booking while it runs, refunds the rest on release and pays the owner the charge less the fee', async () => {
    const client = await newClient(100);
    const gpuId = await newGpu(3.6); // 1,000 micro-AITBC a second
    const providerBefore = await balance(KEYS.provider);
    const booked = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: client.key, body: { duration_hours: 1 } });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    assert.deepEqual(await balance(client.key), { account_id: client.id, available: 96.4, held: 3.6, earnings: 0 });
    await new Promise((r) => setTimeout(r, 1100));
    const released = await call('POST', `/v1/marketplace/gpu/${gpuId}/release`, { key: client.key });
    assert.equal(released.status, 200);
    const { charged, refund } = released.body;
    assert.ok(charged > 0);
    await waitFor(async () => (await balance(client.key)).held === 0, 5000, 'the hold settled');
    const after = await balance(client.key);
    assert.equal(Math.round(after.available * 1e6), Math.round((100 - charged) * 1e6));
    const fee = Math.round(charged * 1e6 * 0.025) / 1e6;
    const provider = await balance(KEYS.provider);
    assert.equal(Math.round((provider.earnings - providerBefore.earnings) * 1e6), Math.round((charged - fee) * 1e6));
    // The statement names the booking on every line.
    const ledger = (await call('GET', '/v1/accounts/me/ledger?limit=50', { key: client.key })).body;
    const lines = ledger.filter((e: { booking_id: string }) => e.booking_id === booked.body.booking_id).map((e: { kind: string; bucket: string; amount: number }) => `${e.kind}:${e.bucket}:${e.amount}`);
    assert.deepEqual(lines.sort(), [`charge:held:${-charged}`, `hold:available:-3.6`, 'hold:held:3.6', `refund:available:${refund}`, `refund:held:${-refund}`].sort());
    await settled();
  });

  it('refuses a booking the balance cannot cover with 402 saying what is missing; nothing booked, nothing held', async () => {
    const poor = await newClient(1);
    const gpuId = await newGpu(3.6);
    const res = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: poor.key, body: { duration_hours: 1 } });
    assert.equal(res.status, 402, JSON.stringify(res.body));
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(res.body.missing, 2.6);
    assert.match(res.body.detail, /2\.6 AITBC is missing/);
    assert.deepEqual(await balance(poor.key), { account_id: poor.id, available: 1, held: 0, earnings: 0 });
    assert.deepEqual((await call('GET', '/v1/marketplace/orders', { key: poor.key })).body, []);
    const zero = await newClient(0);
    assert.equal((await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: zero.key, body: { duration_hours: 1 } })).status, 402);
  });

  it('lets exactly 3 of 50 parallel bookings through when the balance covers 3', async () => {
    const client = await newClient(10.8); // 3 × 3.6
    const gpus = await Promise.all(Array.from({ length: 50 }, (_, i) => newGpu(3.6, `par-${i % 5}`)));
    const answers = await Promise.all(gpus.map((g) => call('POST', `/v1/marketplace/gpu/${g}/book`, { key: client.key, body: { duration_hours: 1 } })));
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, 3, statuses.join());
    assert.equal(statuses.filter((s) => s === 402).length, 47, JSON.stringify(answers.filter((a) => a.status !== 402 && a.status !== 201).map((a) => a.body).slice(0, 3)));
    assert.deepEqual(await balance(client.key), { account_id: client.id, available: 0, held: 10.8, earnings: 0 });
    await settled();
  });

  it('deposits once per reference, pays out no more than earnings, and sends payments for a booking', async () => {
    const client = await newClient(0);
    const dep = () => call('POST', `/v1/accounts/${client.id}/deposits`, { key: KEYS.admin, body: { amount: '5.25', reference: 'chain-tx-0xabc' } });
    const first = await dep();
    assert.equal(first.status, 201);
    const again = await dep();
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.body.tx_id, first.body.tx_id);
    assert.equal((await balance(client.key)).available, 5.25);
    const gpuId = await newGpu(1.8);
    const booked = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: client.key, body: { duration_hours: 1 } });
    assert.equal(booked.status, 201);
    const providerBefore = (await balance(KEYS.provider)).earnings;
    // The CLI's `marketplace gpu pay`.
    const pay = await call('POST', '/v1/payments/send', { key: client.key, body: { booking_id: booked.body.booking_id, amount: 1.5, from_wallet: 'w1', to_wallet: 'w2', task_id: 't-1' } });
    assert.equal(pay.status, 201, JSON.stringify(pay.body));
    assert.match(pay.body.tx_id, /^txn_/);
    assert.equal((await call('POST', '/v1/payments/send', { key: client.key, body: { booking_id: booked.body.booking_id, amount: 1.5, task_id: 't-1' } })).status, 200, 'the same task pays once');
    assert.equal(Math.round(((await balance(KEYS.provider)).earnings - providerBefore) * 1e6), 1_500_000);
    assert.equal((await call('POST', '/v1/payments/send', { key: client.key, body: { booking_id: booked.body.booking_id, amount: 100 } })).status, 402);
    assert.equal((await call('POST', '/v1/payments/send', { key: KEYS.client2, body: { booking_id: booked.body.booking_id, amount: 1 } })).status, 404, "another client's booking");
    // Payouts: never more than earnings.
    const earnings = (await balance(KEYS.provider)).earnings;
    const tooMuch = await call('POST', '/v1/accounts/acme/payouts', { key: KEYS.admin, body: { amount: earnings + 1, reference: 'payout-1' } });
    assert.equal(tooMuch.status, 409);
    const paid = await call('POST', '/v1/accounts/acme/payouts', { key: KEYS.admin, body: { amount: earnings, reference: 'payout-2' } });
    assert.equal(paid.status, 201, JSON.stringify(paid.body));
    assert.equal(paid.body.balance.earnings, 0);
    await settled();
  });

  it("refuses others' balances and ledgers, deposits by non-admins and account creation by anyone but admin; nothing changes", async () => {
    const before = await ledgerProblems(mesh.db);
    const count = async () => Number((await mesh.db.raw('SELECT count(*) AS n FROM accounts.ledger_entries')).rows[0].n);
    const entries = await count();
    const refused: [string, string, string, unknown, number][] = [
      [KEYS.client, 'GET', '/v1/accounts/bob/balance', undefined, 404],
      [KEYS.client, 'GET', '/v1/accounts/bob/ledger', undefined, 404],
      [KEYS.provider, 'GET', '/v1/accounts/alice/balance', undefined, 404],
      [KEYS.provider, 'POST', '/v1/accounts/acme/deposits', { amount: 1000, reference: 'self-credit' }, 403],
      [KEYS.client, 'POST', '/v1/accounts/alice/deposits', { amount: 1000, reference: 'self-credit' }, 403],
      [KEYS.client, 'POST', '/v1/accounts', { role: 'admin' }, 403],
      [KEYS.provider, 'POST', '/v1/accounts', { role: 'client' }, 403],
      [KEYS.client, 'POST', '/v1/accounts/bob/keys', {}, 404],
      [KEYS.client, 'GET', '/v1/accounts/bob/keys', undefined, 404],
      [KEYS.client, 'POST', '/v1/accounts/acme/payouts', { amount: 1, reference: 'x' }, 403],
      [KEYS.admin, 'POST', '/v1/accounts/alice/deposits', { amount: -5, reference: 'neg' }, 400],
      [KEYS.admin, 'POST', '/v1/accounts/alice/deposits', { amount: 5 }, 400],
      [KEYS.admin, 'POST', '/v1/accounts', { role: 'service' }, 400],
    ];
    for (const [key, method, path, body, status] of refused) {
      const res = await call(method, path, { key, body });
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    // Holds move a client's money: only the booking service's key places or releases them.
    const accounts = testClient(AccountsServiceClient, mesh.accounts.address);
    const coordinator = { accountId: 'coordinator', role: Role.ROLE_SERVICE };
    for (const attempt of [
      () => accounts.client.releaseHold({ caller: coordinator, bookingId: 'bkg_aaaaaaaaaaaaaaaaaaaa' }),
      () => accounts.client.placeHold({ caller: coordinator, bookingId: 'bkg_aaaaaaaaaaaaaaaaaaaa', clientId: 'alice', ownerId: 'acme', amountMicro: 1 }),
    ]) {
      await assert.rejects(attempt(), (err: DomainError) => err.code === 'PERMISSION_DENIED');
    }
    accounts.close();
    assert.equal(await count(), entries, 'no money moved');
    assert.deepEqual(await ledgerProblems(mesh.db), before);
  });
});
