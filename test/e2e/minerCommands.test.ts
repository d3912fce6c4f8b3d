import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

const ROOT = resolve(__dirname, '../..');
const TS = ['--require', require.resolve('tsx/cjs')];

/** A stand-in nvidia-smi for an H200 host: answers the CLI's query, the agent's, and the banner. */
const STUB = `#!/bin/sh
case "$*" in
  *--query-gpu=name,memory.total*) echo "NVIDIA H200, 143771" ;;
  *--query-gpu=uuid,name,memory.total,compute_cap,driver_version*) echo "GPU-5c3a2f0e-h200-0001, NVIDIA H200, 143771, 9.0, 550.54.15" ;;
  *--query-gpu=uuid,utilization.gpu*) echo "GPU-5c3a2f0e-h200-0001, 87, 71680, 61, 412.5" ;;
  "") echo "| NVIDIA-SMI 550.54.15    Driver Version: 550.54.15    CUDA Version: 12.4 |" ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
`;

/** The CLI's `miner` commands (update-capabilities, deregister, earnings, jobs) and a real GPU host's first session. */
describe("the CLI's miner commands through the gateway", function () {
  this.timeout(120_000);
  let mesh: TestMesh;
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const cli = (key: string) => ({ key, headers: { 'X-Miner-ID': 'cli-miner' } });
  before(async () => {
    mesh = await startTestMesh({ HEARTBEAT_INTERVAL_SECONDS: '1' }, { pricing: false });
  });
  after(() => mesh?.stop());

  /** The ledger's own figures for a miner's bookings: the owner's charge/payment entries (net) and the platform's fees. */
  const ledgerFigures = async (bookingIds: string[]) => {
    const { rows } = await mesh.db.raw(
      `SELECT coalesce(sum(amount_micro) FILTER (WHERE account_id = 'acme' AND kind IN ('charge', 'payment')), 0) AS net,
              coalesce(sum(amount_micro) FILTER (WHERE account_id = 'platform' AND kind = 'fee'), 0) AS fee
       FROM accounts.ledger_entries WHERE bucket = 'earnings' AND booking_id = ANY(?)`, [bookingIds]);
    return { net: Number(rows[0].net) / 1e6, fee: Number(rows[0].fee) / 1e6 };
  };

  it('updates, reports earnings and jobs for, and deregisters only the caller’s own miner', async () => {
    const registered = await call('POST', '/v1/miners/register', { ...cli(KEYS.provider), body: { capabilities: { gpu: { model: 'RTX 4090', memory_gb: 24, cuda_cores: 16384 } } } });
    assert.equal(registered.status, 200, JSON.stringify(registered.body));
    const gpuId = registered.body.gpus[0].id as string;
    // `miner update-capabilities --gpu "RTX 4090" --memory 24564 --cuda-cores 16000` (MiB, as nvidia-smi says it)
    const updated = await call('PUT', '/v1/miners/cli-miner/capabilities', { ...cli(KEYS.provider), body: { capabilities: { gpu: { model: 'RTX 4090', memory_gb: 24564, cuda_cores: 16000 } } } });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.deepEqual([updated.body.gpus[0].id, updated.body.gpus[0].memory_gb, updated.body.gpus[0].cuda_cores], [gpuId, 24, 16000]);
    const before = await mesh.db('gpus').count({ n: '*' });
    for (const [method, path] of [['PUT', '/v1/miners/cli-miner/capabilities'], ['DELETE', '/v1/miners/cli-miner'],
      ['POST', '/v1/miners/cli-miner/earnings?miner_id=cli-miner'], ['POST', '/v1/miners/cli-miner/jobs?limit=10&miner_id=cli-miner']] as const) {
      const body = method === 'PUT' ? { capabilities: { gpu: { model: 'RTX 4090', memory_gb: 24 } } } : undefined;
      const res = await call(method, path, { ...cli(KEYS.provider2), body });
      assert.equal(res.status, 404, `another provider's miner: ${method} ${path} ${JSON.stringify(res.body)}`);
      const unknown = await call(method, path.replaceAll('cli-miner', 'never-registered'), { ...cli(KEYS.provider), body });
      assert.equal(unknown.status, 404, `${method} ${path} ${JSON.stringify(unknown.body)}`);
    }
    assert.deepEqual(await mesh.db('gpus').count({ n: '*' }), before, 'nothing created by the refused updates');
    assert.equal((await call('PUT', '/v1/miners/cli-miner/capabilities', { ...cli(KEYS.client), body: { capabilities: { gpu: { model: 'L4', memory_gb: 24 } } } })).status, 403);
    for (const [method, path] of [['DELETE', '/v1/miners/cli-miner'], ['POST', '/v1/miners/cli-miner/earnings'], ['POST', '/v1/miners/cli-miner/jobs']] as const) {
      assert.equal((await call(method, path, cli(KEYS.client))).status, 403, `${method} ${path} with a client key`);
      assert.equal((await call(method, path, {})).status, 401, `${method} ${path} without a key`);
    }
    // Hostile miner ids and queries: 400 (or 414), never 5xx, and nothing stored.
    for (const [method, path] of [['DELETE', '/v1/miners/rig%00x'], ['POST', '/v1/miners/rig%1B%5B31m/jobs'], ['POST', `/v1/miners/${'r'.repeat(65)}/earnings`],
      ['POST', '/v1/miners/cli-miner/jobs?min_reward=1e308'], ['POST', '/v1/miners/cli-miner/jobs?limit=99999999999'], ['POST', '/v1/miners/cli-miner/earnings?from_time=99999-01-01'],
      ['PUT', '/v1/miners/cli-miner%E2%80%AE/capabilities']] as const) {
      const body = method === 'PUT' ? { capabilities: { gpu: { model: 'RTX 4090', memory_gb: 24 } } } : undefined;
      const res = await call(method, path, { ...cli(KEYS.provider), body });
      assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    assert.deepEqual(await mesh.db('gpus').count({ n: '*' }), before, 'nothing stored by hostile requests');
    assert.equal((await call('PUT', '/v1/miners/cli-miner/capabilities', { ...cli(KEYS.provider), body: { capabilities: {} } })).status, 400);
    assert.equal((await call('POST', '/v1/miners/cli-miner/earnings?from_time=yesterday', cli(KEYS.provider))).status, 400);
    assert.equal((await call('POST', '/v1/miners/cli-miner/jobs?miner_id=other', cli(KEYS.provider))).status, 400);

    // Two bookings, released after a moment: charged by the second, fee to the platform.
    const bookingIds: string[] = [];
    for (const key of [KEYS.client, KEYS.client2]) {
      const booked = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key, body: { duration_hours: 1 } });
      assert.equal(booked.status, 201, JSON.stringify(booked.body));
      bookingIds.push(booked.body.booking_id);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await call('POST', `/v1/marketplace/gpu/${gpuId}/release`, { key })).status, 200);
    }
    const settled = async () => (await ledgerFigures(bookingIds)).net > 0 && (await mesh.db.raw(`SELECT count(*) AS n FROM accounts.holds WHERE booking_id = ANY(?) AND status = 'settled'`, [bookingIds])).rows[0].n === 2;
    await waitFor(settled, 10_000, 'both bookings settled in the ledger');
    // `miner earnings --from-time … --to-time …`
    const today = new Date().toISOString().slice(0, 10);
    const earnings = await call('POST', `/v1/miners/cli-miner/earnings?miner_id=cli-miner&from_time=${today}&to_time=2999-01-01T00:00:00Z`, cli(KEYS.provider));
    assert.equal(earnings.status, 200, JSON.stringify(earnings.body));
    const ledger = await ledgerFigures(bookingIds);
    const e = earnings.body;
    assert.deepEqual([e.total.net, e.total.fee, e.total.gross, e.total.bookings], [ledger.net, ledger.fee, Math.round((ledger.net + ledger.fee) * 1e6) / 1e6, 2]);
    assert.ok(e.total.gross > 0);
    assert.deepEqual(e.by_gpu, [{ gpu_id: gpuId, ...e.total }]);
    assert.deepEqual(e.by_day, [{ day: today, ...e.total }]);
    assert.deepEqual(e.bookings.map((b: { booking_id: string }) => b.booking_id).sort(), [...bookingIds].sort());
    const charged = (await mesh.db.raw(`SELECT sum(charged_micro) AS c FROM booking.bookings WHERE booking_id = ANY(?)`, [bookingIds])).rows[0].c;
    assert.equal(e.total.gross, Number(charged) / 1e6, 'gross is what the renters were charged');
    const empty = await call('POST', '/v1/miners/cli-miner/earnings?from_time=2020-01-01&to_time=2020-02-01', cli(KEYS.provider));
    assert.deepEqual([empty.status, empty.body.total.gross, empty.body.bookings], [200, 0, []]);

    // `miner jobs --limit 10 --status released`
    const jobs = await call('POST', '/v1/miners/cli-miner/jobs?limit=10&miner_id=cli-miner&type=rental&status=released', cli(KEYS.provider));
    assert.equal(jobs.status, 200, JSON.stringify(jobs.body));
    assert.deepEqual(jobs.body.jobs.map((j: { booking_id: string }) => j.booking_id).sort(), [...bookingIds].sort());
    assert.ok(jobs.body.jobs.every((j: { charged: number; job_id: string; status: string }) => j.charged > 0 && j.job_id && j.status === 'released'));
    assert.deepEqual((await call('POST', '/v1/miners/cli-miner/jobs?status=active', cli(KEYS.provider))).body.jobs, []);
    assert.deepEqual((await call('POST', '/v1/miners/cli-miner/jobs?min_reward=1000', cli(KEYS.provider))).body.jobs, []);
    assert.equal((await call('POST', '/v1/miners/cli-miner/jobs?limit=1', cli(KEYS.provider))).body.jobs.length, 1);

    // `miner deregister`: refused while booked, naming the GPU; force cancels the booking.
    const running = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client, body: { duration_hours: 1 } });
    assert.equal(running.status, 201);
    await waitFor(async () => (await mesh.db('gpus').where({ id: gpuId }).first()).current_booking_id === running.body.booking_id, 5000, 'the registry to see the booking');
    const refused = await call('DELETE', '/v1/miners/cli-miner', cli(KEYS.provider));
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.deepEqual(refused.body.booked.map((b: { gpu_id: string }) => b.gpu_id), [gpuId]);
    assert.equal((await call('GET', `/v1/marketplace/gpu/${gpuId}`, { key: KEYS.client })).status, 200, 'still registered');
    const gone = await call('DELETE', '/v1/miners/cli-miner?force=true', cli(KEYS.provider));
    assert.equal(gone.status, 200, JSON.stringify(gone.body));
    assert.deepEqual(gone.body.gpus.map((g: { id: string }) => g.id), [gpuId]);
    assert.equal((await call('GET', `/v1/marketplace/gpu/${gpuId}`, { key: KEYS.client })).status, 404);
    await waitFor(async () => (await call('GET', `/v1/marketplace/bookings/${running.body.booking_id}`, { key: KEYS.client })).body.status === 'cancelled', 10_000, 'the booking cancelled');
    // History stays: the earnings are still the owner's to read; the miner has no GPUs to update.
    assert.equal((await call('POST', '/v1/miners/cli-miner/earnings', cli(KEYS.provider))).status, 200);
    assert.equal((await call('PUT', '/v1/miners/cli-miner/capabilities', { ...cli(KEYS.provider), body: { capabilities: { gpu: { model: 'RTX 4090', memory_gb: 24 } } } })).status, 404);
    assert.equal((await call('DELETE', '/v1/miners/cli-miner', cli(KEYS.provider))).status, 404);
    await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to add up');
  });

  it('never leaves a booking on a GPU being deregistered, never lets an update revive a deregistered miner, and lists a hardware UUID once per account', async () => {
    const rounds = 20;
    const outcomes = await Promise.all(Array.from({ length: rounds }, async (_, i) => {
      const miner = `race-${i}`;
      const reg = await call('POST', '/v1/miners/register', { key: KEYS.provider, headers: { 'X-Miner-ID': miner }, body: { capabilities: { gpu: { model: 'L4', memory_gb: 24, price_per_hour: 0.5, uuid: `GPU-race-${i}` } } } });
      assert.equal(reg.status, 200, JSON.stringify(reg.body));
      const gpuId = reg.body.gpus[0].id;
      const [booked, gone, updated] = await Promise.all([
        call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client, body: { duration_hours: 1 } }),
        call('DELETE', `/v1/miners/${miner}${i % 2 ? '?force=true' : ''}`, { key: KEYS.provider }),
        call('PUT', `/v1/miners/${miner}/capabilities`, { key: KEYS.provider, body: { capabilities: { gpu: { model: 'L4', memory_gb: 24, uuid: `GPU-race-${i}-new` } } } }),
      ]);
      return { miner, gpuId, booked, gone, updated };
    }));
    const stats = { booked: 0, refused: 0, deregistered: 0, updatedFirst: 0 };
    for (const o of outcomes) {
      assert.ok([201, 404, 409].includes(o.booked.status), JSON.stringify(o.booked.body));
      assert.ok([200, 409].includes(o.gone.status), JSON.stringify(o.gone.body));
      assert.ok([200, 404].includes(o.updated.status), JSON.stringify(o.updated.body));
      stats[o.booked.status === 201 ? 'booked' : 'refused']++;
      if (o.gone.status === 200) stats.deregistered++;
      if (o.updated.status === 200) stats.updatedFirst++;
      if (o.gone.status === 200) {
        // Deregistered: nothing of the miner is left, whichever came first.
        assert.deepEqual(await mesh.db('gpus').where({ owner_id: 'acme', miner_id: o.miner }).whereNull('deleted_at'), [], `${o.miner} revived`);
        if (o.booked.status === 201) {
          const id = o.booked.body.booking_id;
          await waitFor(async () => (await call('GET', `/v1/marketplace/bookings/${id}`, { key: KEYS.client })).body.status !== 'active', 10_000, `booking ${id} on a deregistered GPU to end`);
        }
      }
    }
    process.stdout.write(`      [counts] ${rounds} races: ${JSON.stringify(stats)}\n`);
    // One physical GPU, one listing of its owner: its UUID under another of the account's miners is refused.
    const uuid = { model: 'L4', memory_gb: 24, uuid: 'GPU-only-once' };
    assert.equal((await call('POST', '/v1/miners/register', { key: KEYS.provider, headers: { 'X-Miner-ID': 'uuid-a' }, body: { capabilities: { gpu: uuid } } })).status, 200);
    assert.equal((await call('POST', '/v1/miners/register', { key: KEYS.provider, headers: { 'X-Miner-ID': 'uuid-a' }, body: { capabilities: { gpu: uuid } } })).status, 200, 'the same miner updates it');
    for (const id of ['GPU-only-once', 'gpu-ONLY-once']) {
      const again = await call('POST', '/v1/miners/register', { key: KEYS.provider, headers: { 'X-Miner-ID': 'uuid-b' }, body: { capabilities: { gpu: { ...uuid, uuid: id } } } });
      assert.equal(again.status, 409, `${id}: ${JSON.stringify(again.body)}`);
      assert.equal(again.body.field, 'uuid');
    }
    assert.equal((await mesh.db('gpus').where({ owner_id: 'acme', uuid: 'GPU-only-once' }).whereNull('deleted_at')).length, 1);
    await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to add up');
  });

  it('serves a real GPU host: the CLI registers what nvidia-smi says (MiB), and the agent lists it with its telemetry', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'nvidia-smi-'));
    writeFileSync(join(bin, 'nvidia-smi'), STUB);
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
    const PATH = `${bin}:${process.env.PATH}`;
    // `marketplace gpu register` without --memory: the CLI's own query, sent as it reads it.
    const [name, memory] = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { env: { ...process.env, PATH }, encoding: 'utf8' })
      .trim().split(',').map((s) => s.trim());
    const registered = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, headers: { 'X-Miner-ID': 'cli-host' },
      body: { gpu: { name, memory_gb: Number(memory), price_per_hour: 3 } } });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    assert.deepEqual([registered.body.gpu.model, registered.body.gpu.memory_gb], ['NVIDIA H200', 140]);

    const run = (env: NodeJS.ProcessEnv, ...args: string[]): ChildProcess & { output: () => string } => {
      const child = spawn(process.execPath, [...TS, 'bin/miner.ts', '--api-key', KEYS.provider, '--miner-id', 'h200-host', '--registry', mesh.registry.publicAddress!, ...args],
        { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      return Object.assign(child, { output: () => out });
    };
    const agent = run({ PATH });
    try {
      const details = async () => {
        const row = await mesh.db('gpus').where({ miner_id: 'h200-host' }).whereNull('deleted_at').first();
        return row ? (await call('GET', `/v1/marketplace/gpu/${row.id}`, { key: KEYS.client })).body : undefined;
      };
      await waitFor(async () => (await details())?.telemetry?.utilization === 87, 20_000, 'the agent’s GPU with its telemetry');
      const gpu = await details();
      assert.deepEqual([gpu.uuid, gpu.model, gpu.model_key, gpu.memory_gb, gpu.compute_capability, gpu.driver_version, gpu.cuda_version, gpu.status],
        ['GPU-5c3a2f0e-h200-0001', 'NVIDIA H200', 'h200', 140, '9.0', '550.54.15', '12.4', 'available']);
      assert.deepEqual([gpu.telemetry.temperature_c, gpu.telemetry.memory_used_gb, gpu.telemetry.power_w], [61, 70, 412.5]);
    } finally {
      agent.kill('SIGTERM');
    }
    // No nvidia-smi on PATH: it says so and exits non-zero.
    const empty = mkdtempSync(join(tmpdir(), 'no-gpu-'));
    const bare = run({ PATH: empty });
    const code = await new Promise<number | null>((done) => bare.on('exit', done));
    assert.equal(code, 1, bare.output());
    assert.match(bare.output(), /nvidia-smi was not found on PATH/);
  });
});
