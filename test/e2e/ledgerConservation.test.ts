import assert from 'node:assert/strict';
import fc from 'fast-check';
import { waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

type Op =
  | { kind: 'deposit'; client: number; amount: number }
  | { kind: 'book'; client: number; gpu: number; seconds: number }
  | { kind: 'release'; client: number; gpu: number }
  | { kind: 'offline'; rig: number }
  | { kind: 'online'; rig: number }
  | { kind: 'payout'; amount: number };

const CLIENTS = 4;
const RIGS = 3;
const GPUS_PER_RIG = 3;

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('deposit' as const), client: fc.nat(CLIENTS - 1), amount: fc.integer({ min: 1, max: 50 }) }),
  fc.record({ kind: fc.constant('book' as const), client: fc.nat(CLIENTS - 1), gpu: fc.nat(RIGS * GPUS_PER_RIG - 1), seconds: fc.constantFrom(1, 2, 3, 3600) }),
  fc.record({ kind: fc.constant('book' as const), client: fc.nat(CLIENTS - 1), gpu: fc.nat(RIGS * GPUS_PER_RIG - 1), seconds: fc.constantFrom(2, 3600) }),
  fc.record({ kind: fc.constant('release' as const), client: fc.nat(CLIENTS - 1), gpu: fc.nat(RIGS * GPUS_PER_RIG - 1) }),
  fc.record({ kind: fc.constant('offline' as const), rig: fc.nat(RIGS - 1) }),
  fc.record({ kind: fc.constant('online' as const), rig: fc.nat(RIGS - 1) }),
  fc.record({ kind: fc.constant('payout' as const), amount: fc.integer({ min: 1, max: 5 }) }),
);

/**
 * Conservation under concurrency: random interleavings of deposits, bookings (some ending by
 * themselves within seconds), releases, GPUs going offline and back (cancelling what runs
 * on them) and payouts, run many at a time. Whatever happens, once events have settled: the
 * journal sums to zero, no balance is negative, every account's balances are the sums of its
 * entries, and every ended booking's hold is exactly its charge plus its refund.
 */
describe('the ledger conserves money under random concurrent activity (property)', function () {
  this.timeout(180_000);
  let mesh: TestMesh;
  const extra = Array.from({ length: CLIENTS }, (_, i) => ({ account: `cons${i}`, key: `conservation-client-key-${i}-xxxxx` }));
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const gpus: string[] = [];
  before(async () => {
    mesh = await startTestMesh({ PLATFORM_FEE_BP: '300', AITBC_OPENING_BALANCE: '20', EXPIRY_INTERVAL_MS: '100', RATE_LIMIT_PER_SECOND: '0' },
      { pricing: false, extraKeys: extra.map((c) => `client:${c.account}:${c.key}`) });
    for (let rig = 0; rig < RIGS; rig++) {
      for (let g = 0; g < GPUS_PER_RIG; g++) {
        const res = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, headers: { 'X-Miner-ID': `cons-rig-${rig}` },
          body: { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.9 + g * 0.45, uuid: `GPU-cons-${rig}-${g}` } } });
        gpus.push(res.body.gpu_id);
      }
    }
  });
  after(() => mesh?.stop());

  const run = async (o: Op, i: number) => {
    const c = extra[(o as { client?: number }).client ?? 0];
    switch (o.kind) {
      case 'deposit':
        return call('POST', `/v1/accounts/${c.account}/deposits`, { key: KEYS.admin, body: { amount: o.amount, reference: `cons-${Date.now()}-${i}` } });
      case 'book':
        return call('POST', `/v1/marketplace/gpu/${gpus[o.gpu]}/book`, { key: c.key, body: { duration_hours: o.seconds / 3600 } });
      case 'release':
        return call('POST', `/v1/marketplace/gpu/${gpus[o.gpu]}/release`, { key: c.key });
      case 'offline':
      case 'online':
        return call('POST', '/v1/miners/heartbeat', { key: KEYS.provider, headers: { 'X-Miner-ID': `cons-rig-${o.rig}` }, body: { status: o.kind === 'offline' ? 'OFFLINE' : 'ONLINE' } });
      case 'payout': {
        const earnings = (await call('GET', '/v1/accounts/acme/balance', { key: KEYS.admin })).body.earnings;
        return call('POST', '/v1/accounts/acme/payouts', { key: KEYS.admin, body: { amount: Math.min(o.amount, earnings) || 1, reference: `cons-payout-${Date.now()}-${i}` } });
      }
      default:
        return undefined;
    }
  };

  it('keeps every invariant over 4 random histories of 60 operations, 12 at a time', async () => {
    const statuses = new Map<number, number>();
    for (const [round, ops] of fc.sample(fc.array(op, { minLength: 60, maxLength: 60 }), { numRuns: 4, seed: 1202 }).entries()) {
      for (let i = 0; i < ops.length; i += 12) {
        const answers = await Promise.all(ops.slice(i, i + 12).map((o, j) => run(o, round * 1000 + i + j)));
        for (const a of answers) if (a) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        assert.ok(answers.every((a) => !a || a.status < 500), JSON.stringify(answers.filter((a) => a && a.status >= 500).map((a) => a!.body)));
      }
      // Let bookings of a few seconds end by themselves, and every event settle.
      await new Promise((r) => setTimeout(r, 3500));
      await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 15_000, `round ${round}: ${(await ledgerProblems(mesh.db)).slice(0, 3).join('; ')}`);
    }
    // And one booking that surely runs out by itself: how many random ones do depends on timing
    // (a GPU sent offline or a release may end them first).
    await run({ kind: 'online', rig: 0 }, 9000);
    await run({ kind: 'deposit', client: 0, amount: 5 }, 9001);
    const gpu = await (async () => {
      for (let g = 0; g < GPUS_PER_RIG; g++) if ((await run({ kind: 'book', client: 0, gpu: g, seconds: 1 }, 9002 + g))?.status === 201) return g;
      return -1;
    })();
    assert.ok(gpu >= 0, 'a GPU of the first rig took a one-second booking');
    await new Promise((r) => setTimeout(r, 2500));
    await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 15_000, 'the last booking to settle');
    process.stdout.write(`      (answers: ${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')})\n`);
    // Enough of everything happened for the property to mean something.
    assert.ok((statuses.get(201) ?? 0) > 40, 'bookings and deposits went through');
    assert.ok((statuses.get(402) ?? 0) > 0 || (statuses.get(409) ?? 0) > 0, 'some were refused');
    const { rows } = await mesh.db.raw(`SELECT end_reason, count(*) AS n FROM booking.bookings GROUP BY end_reason`);
    const reasons = Object.fromEntries((rows as { end_reason: string | null; n: string }[]).map((r) => [r.end_reason ?? 'active', Number(r.n)]));
    process.stdout.write(`      (bookings: ${JSON.stringify(reasons)})\n`);
    for (const reason of ['released', 'expired', 'gpu_offline']) assert.ok(reasons[reason] > 0, `no booking ${reason}`);
    assert.deepEqual(await ledgerProblems(mesh.db), []);
  });
});
