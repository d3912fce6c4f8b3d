import assert from 'node:assert/strict';
import { waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { Role } from '../../lib/caller';
import type { DomainError } from '../../lib/errors';
import { AccountsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import { BookingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/booking';
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

  it('moves no money for bookings refused because the window is taken, and pays for no booking that was never made', async () => {
    const [owner, other] = [await newClient(10), await newClient(10)];
    const gpuId = await newGpu(0.36);
    assert.equal((await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: owner.key, body: { duration_hours: 1 } })).status, 201);
    const entries = async (id: string) => Number((await mesh.db('accounts.ledger_entries').where({ account_id: id }).count({ n: '*' }))[0].n);
    const before = await entries(other.id);
    const refused = await Promise.all(Array.from({ length: 20 }, () => call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: other.key, body: { duration_hours: 1 } })));
    assert.deepEqual([...new Set(refused.map((r) => r.status))], [409]);
    assert.equal(await entries(other.id), before, 'no hold and release pair per refused booking');
    assert.deepEqual(await balance(other.key), { account_id: other.id, available: 10, held: 0, earnings: 0 });
    // A hold given back (its booking never made) is no booking to pay for.
    await mesh.db('accounts.holds').insert({ booking_id: 'bkg_nevermade0000000000', client_id: other.id, owner_id: 'acme', amount_micro: 1, status: 'released', deadline: new Date() });
    const paid = await call('POST', '/v1/payments/send', { key: other.key, body: { booking_id: 'bkg_nevermade0000000000', amount: 1 } });
    assert.equal(paid.status, 404, JSON.stringify(paid.body));
    await settled();
  });

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
      // "me" names the caller's own account in the routes: no account may be called that.
      [KEYS.admin, 'POST', '/v1/accounts', { role: 'client', account_id: 'me' }, 400],
      [KEYS.admin, 'POST', '/v1/accounts', { role: 'client', account_id: 'ME' }, 400],
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
      () => accounts.client.placeHold({ caller: coordinator, bookingId: 'bkg_aaaaaaaaaaaaaaaaaaaa', clientId: 'alice', ownerId: 'acme', amountMicro: 1, gpuId: '', minerId: '' }),
    ]) {
      await assert.rejects(attempt(), (err: DomainError) => err.code === 'PERMISSION_DENIED');
    }
    accounts.close();
    assert.equal(await count(), entries, 'no money moved');
    assert.deepEqual(await ledgerProblems(mesh.db), before);
  });

  it('scopes references to their account, refuses a reference reused for another amount, and keeps balances exact', async () => {
    const [a, b] = [await newClient(0), await newClient(0)];
    const deposit = (id: string, amount: number | string, reference: string) => call('POST', `/v1/accounts/${id}/deposits`, { key: KEYS.admin, body: { amount, reference } });
    assert.equal((await deposit(a.id, 2, 'wire-77')).status, 201);
    assert.equal((await deposit(b.id, 3, 'wire-77')).status, 201, "another account's reference is its own");
    const reused = await deposit(a.id, 20, 'wire-77');
    assert.equal(reused.status, 409, JSON.stringify(reused.body));
    assert.match(reused.body.detail, /used already/);
    // The opening balance's reference cannot be squatted by a request.
    assert.equal((await deposit(a.id, 1, `opening:${a.id}`)).status, 201);
    assert.deepEqual([(await balance(a.key)).available, (await balance(b.key)).available], [3, 3]);
    // Only clients spend a balance: deposits elsewhere are refused.
    for (const id of ['acme', 'ops', 'gateway', 'world', 'platform']) assert.ok([400, 404].includes((await deposit(id, 1, `to-${id}`)).status), id);
    // Balances stay below 2^53 micro: two deposits of 5 billion are one too many, and nothing moves.
    assert.equal((await deposit(a.id, '9000000001', 'too-big')).status, 400);
    assert.equal((await deposit(a.id, '5000000000', 'big-1')).status, 201);
    const past = await deposit(a.id, '5000000000', 'big-2');
    assert.equal(past.status, 409, JSON.stringify(past.body));
    assert.match(past.body.detail, /9,000,000,000/);
    assert.equal((await balance(a.key)).available, 5_000_000_003);
    await settled();
  });

  it('answers a payout made already whatever the earnings now, lets admin read and pay out the fees, and never tells a booker what a client has', async () => {
    const client = await newClient(10);
    const gpuId = await newGpu(2, 'payout-rig');
    const booked = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: client.key, body: { duration_hours: 1 } });
    assert.equal((await call('POST', `/v1/marketplace/bookings/${booked.body.booking_id}/release`, { key: client.key })).status, 200);
    await settled();
    const earnings = (await balance(KEYS.provider)).earnings;
    assert.ok(earnings > 0);
    const payout = () => call('POST', '/v1/accounts/acme/payouts', { key: KEYS.admin, body: { amount: earnings, reference: 'weekly-49' } });
    assert.equal((await payout()).status, 201);
    const replay = await payout();
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal((await call('POST', '/v1/accounts/acme/payouts', { key: KEYS.admin, body: { amount: earnings / 2, reference: 'weekly-49' } })).status, 409);
    // The platform's fees: admin may read them and pay them out; no one else sees them.
    const fees = await call('GET', '/v1/accounts/platform/balance', { key: KEYS.admin });
    assert.equal(fees.status, 200);
    assert.ok(fees.body.earnings > 0);
    assert.equal((await call('GET', '/v1/accounts/platform/ledger', { key: KEYS.admin })).status, 200);
    assert.equal((await call('GET', '/v1/accounts/platform/balance', { key: KEYS.provider })).status, 404);
    assert.equal((await call('GET', '/v1/accounts/world/balance', { key: KEYS.admin })).status, 404);
    assert.equal((await call('POST', '/v1/accounts/platform/payouts', { key: KEYS.admin, body: { amount: fees.body.earnings, reference: 'fees-1' } })).status, 201);
    // Booking for a client (the coordinator): a refusal says it cannot pay, not how much it has.
    const poor = await newClient(1);
    const booking = testClient(BookingServiceClient, mesh.booking.address);
    try {
      await assert.rejects(booking.client.createBooking({
        caller: { accountId: 'coordinator', role: Role.ROLE_SERVICE }, clientId: poor.id, gpuId, durationHours: 1, jobId: 'job-poor', dryRun: false, idempotencyKey: '',
      }), (err: DomainError) => err.code === 'FAILED_PRECONDITION' && err.details?.reason === 'insufficient_funds'
        && err.details?.available_micro === undefined && !/AITBC/.test(err.message));
    } finally {
      booking.close();
    }
    // Only an active client's money is held: never a provider's or the system accounts'.
    const accounts = testClient(AccountsServiceClient, mesh.accounts.address);
    try {
      for (const clientId of ['platform', 'world', 'acme', 'gateway']) {
        await assert.rejects(accounts.client.placeHold({ caller: { accountId: 'booking', role: Role.ROLE_SERVICE }, bookingId: 'bkg_bbbbbbbbbbbbbbbbbbbb', clientId, ownerId: 'acme', amountMicro: 1, gpuId: '', minerId: '' }),
          (err: DomainError) => err.code === 'FAILED_PRECONDITION', clientId);
      }
    } finally {
      accounts.close();
    }
    await settled();
  });
});
