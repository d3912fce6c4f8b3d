import assert from 'node:assert/strict';
import { waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { Role } from '../../lib/caller';
import { newId } from '../../lib/ids';
import type { DomainError } from '../../lib/errors';
import { AccountsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import { http, KEYS, startTestMesh, testClient, type TestMesh } from '../support/testMesh';

const BOOKING_SERVICE = { accountId: 'booking', role: Role.ROLE_SERVICE };

/**
 * The hold a booking is paid from, at the accounts service's own port: whom it may be for
 * (a provider's earnings, never a system, service or client account), what asking again
 * answers, and the reconciler confirming the hold of a booking that runs past its deadline
 * (the settlement consumer takes booking.ended only). Money is checked after each.
 */
describe('booking holds: who they pay, replays, and bookings running past the deadline', function () {
  this.timeout(60_000);
  let mesh: TestMesh;
  let accounts: ReturnType<typeof testClient<AccountsServiceClient>>;
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const newClient = async (deposit: number) => {
    const account = await call('POST', '/v1/accounts', { key: KEYS.admin, body: { role: 'client' } });
    const key = await call('POST', `/v1/accounts/${account.body.account_id}/keys`, { key: KEYS.admin, body: {} });
    await call('POST', `/v1/accounts/${account.body.account_id}/deposits`, { key: KEYS.admin, body: { amount: deposit, reference: 'start' } });
    return { id: account.body.account_id as string, key: key.body.key as string };
  };
  const held = async (id: string) => Number((await mesh.db('accounts.balances').where({ account_id: id }).first()).held_micro);
  const hold = (bookingId: string, clientId: string, ownerId: string, amountMicro = 1000) =>
    accounts.client.placeHold({ caller: BOOKING_SERVICE, bookingId, clientId, ownerId, amountMicro, gpuId: '', minerId: '' });

  before(async () => {
    mesh = await startTestMesh({ HOLD_DEADLINE_MS: '1000', HOLD_GRACE_MS: '0', HOLD_RECONCILE_INTERVAL_MS: '200' }, { pricing: false });
    accounts = testClient(AccountsServiceClient, mesh.accounts.address);
  });
  after(async () => {
    accounts?.close();
    await mesh?.stop();
  });

  it('holds for a provider only: never for a system, service or client account as the owner; nothing held', async () => {
    const [client, other] = [await newClient(10), await newClient(10)];
    for (const ownerId of ['platform', 'world', 'gateway', other.id, client.id]) {
      await assert.rejects(hold(newId('bkg'), client.id, ownerId),
        (err: DomainError) => err.code === 'FAILED_PRECONDITION', ownerId);
    }
    assert.equal(await held(client.id), 0);
    assert.equal(Number((await mesh.db('accounts.holds').where({ client_id: client.id }).count({ n: '*' }))[0].n), 0);
    // A provider with no account yet (its first earning makes one) is paid as before.
    await hold(newId('bkg'), client.id, 'fresh-provider');
    assert.equal(await held(client.id), 1000);
  });

  it('holds once for 20 concurrent asks of one booking, refuses it for another owner, and after it was given back', async () => {
    const client = await newClient(10);
    const id = newId('bkg');
    const answers = await Promise.all(Array.from({ length: 20 }, () => hold(id, client.id, 'acme')));
    assert.equal(new Set(answers.map((a) => a.deadline!.getTime())).size, 1);
    assert.equal(await held(client.id), 1000);
    await assert.rejects(hold(id, client.id, 'globex'), (err: DomainError) => err.code === 'ALREADY_EXISTS');
    assert.equal((await accounts.client.releaseHold({ caller: BOOKING_SERVICE, bookingId: id })).released, true);
    await assert.rejects(hold(id, client.id, 'acme'), (err: DomainError) => err.code === 'FAILED_PRECONDITION' && /given back/.test(err.message));
    assert.equal(await held(client.id), 0);
    // Not enough for a new one: 402's reason, with what is missing; nothing held.
    await assert.rejects(hold(newId('bkg'), client.id, 'acme', 20_000_000),
      (err: DomainError) => err.details?.reason === 'insufficient_funds' && err.details?.missing_micro === 10_000_000);
    assert.equal(await held(client.id), 0);
  });

  it('confirms the hold of a booking running past its deadline, and settles it when the booking ends', async () => {
    const client = await newClient(10);
    const gpu = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, headers: { 'X-Miner-ID': 'hold-rig' }, body: { gpu: { name: 'A100', memory_gb: 80, price_per_hour: 3.6 } } });
    const booked = await call('POST', `/v1/marketplace/gpu/${gpu.body.gpu_id}/book`, { key: client.key, body: { duration_hours: 1 } });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    const status = async () => (await mesh.db('accounts.holds').where({ booking_id: booked.body.booking_id }).first()).status;
    assert.equal(await status(), 'pending');
    await waitFor(async () => (await status()) === 'confirmed', 10_000, 'the reconciler to confirm the hold');
    assert.equal((await call('POST', `/v1/marketplace/gpu/${gpu.body.gpu_id}/release`, { key: client.key })).status, 200);
    await waitFor(async () => (await status()) === 'settled', 10_000, 'the hold settled');
    await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to agree');
  });
});
