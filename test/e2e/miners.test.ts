import assert from 'node:assert/strict';
import { waitFor } from '../support/events';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

describe('miner endpoints through the gateway', () => {
  let mesh: TestMesh;
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const snapshot = () => mesh.db('gpus').orderBy('id').select();
  /** The body and header `aitbc miner register` sends. */
  const minerRegister = (minerId: string, gpu: unknown, key = KEYS.provider) =>
    call('POST', '/v1/miners/register', { key, body: { capabilities: { gpu } }, headers: { 'X-Miner-ID': minerId } });
  const heartbeat = (minerId: string, status = 'ONLINE', key = KEYS.provider) =>
    call('POST', '/v1/miners/heartbeat', { key, body: { inflight: 0, status, metadata: {} }, headers: { 'X-Miner-ID': minerId } });

  before(async () => {
    // A short TTL so the test sees GPUs go offline without waiting half a minute.
    mesh = await startTestMesh({ HEARTBEAT_TTL_SECONDS: '2', HEARTBEAT_INTERVAL_SECONDS: '1' });
  });
  after(async () => {
    await mesh?.stop();
  });

  it('registers the CLI miner body (200) and re-registering updates instead of duplicating', async () => {
    const res = await minerRegister('cli-miner', { model: 'RTX 4090', memory_gb: 24, cuda_cores: 16384 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.miner_id, 'cli-miner');
    assert.equal(res.body.gpus.length, 1);
    const gpu = res.body.gpus[0];
    assert.equal(gpu.model, 'RTX 4090');
    assert.equal(gpu.status, 'available');
    assert.equal(gpu.price_per_hour, 1); // DEFAULT_PRICE_PER_HOUR
    const again = await minerRegister('cli-miner', { model: 'RTX 4090', memory_gb: 24, cuda_cores: 16000 });
    assert.equal(again.status, 200);
    assert.equal(again.body.gpus[0].id, gpu.id);
    assert.equal(again.body.gpus[0].cuda_cores, 16000);
    assert.equal((await mesh.db('gpus').where({ owner_id: 'acme', miner_id: 'cli-miner' })).length, 1);
  });

  it('answers `miner register` without --gpu (a CPU-only host) with 200 saying nothing was listed, and stores nothing', async () => {
    const before = await snapshot();
    const res = await call('POST', '/v1/miners/register', { key: KEYS.provider, body: { capabilities: { cpu: { cores: 16 }, memory: 64 } }, headers: { 'X-Miner-ID': 'cpu-host' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'nothing_listed');
    assert.deepEqual(res.body.gpus, []);
    assert.match(res.body.message, /nothing was listed/);
    assert.deepEqual(await snapshot(), before);
  });

  it('registers a rig of several GPUs keyed by uuid, keeping a price it was given', async () => {
    const gpus = [0, 1, 2].map((i) => ({ model: 'A100 80GB', memory_gb: 80, uuid: `GPU-rig8-${i}`, price_per_hour: 2.5 }));
    const res = await minerRegister('rig-8', gpus);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.gpus.length, 3);
    // Without a price on re-registration the stored price stays.
    const again = await minerRegister('rig-8', gpus.map(({ price_per_hour: _p, ...g }) => g));
    assert.deepEqual(again.body.gpus.map((g: { id: string }) => g.id), res.body.gpus.map((g: { id: string }) => g.id));
    assert.ok(again.body.gpus.every((g: { price_per_hour: number }) => g.price_per_hour === 2.5));
  });

  it('keeps GPUs online with heartbeats and lets them go offline after the TTL', async () => {
    await minerRegister('hb-miner', { model: 'RTX 3080', memory_gb: 10 });
    const hb = await heartbeat('hb-miner');
    assert.equal(hb.status, 200);
    assert.equal(hb.body.gpus, 1);
    assert.equal(hb.body.heartbeat_interval_seconds, 1);
    const statusOf = async () => (await mesh.db('gpus').where({ miner_id: 'hb-miner' }).first()).online;
    assert.equal(await statusOf(), true);
    // Silence: offline within TTL (2 s) + sweep interval (1 s).
    const deadline = Date.now() + 5000;
    while ((await statusOf()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await statusOf(), false);
    const listed = await call('GET', '/v1/marketplace/gpu/list?miner_id=hb-miner', { key: KEYS.client });
    assert.equal(listed.body[0].status, 'offline');
    // A heartbeat brings it back.
    assert.equal((await heartbeat('hb-miner')).status, 200);
    const back = await call('GET', '/v1/marketplace/gpu/list?miner_id=hb-miner', { key: KEYS.client });
    assert.equal(back.body[0].status, 'available');
    // OFFLINE says goodbye at once.
    assert.equal((await heartbeat('hb-miner', 'OFFLINE')).status, 200);
    assert.equal(await statusOf(), false);
  });

  it('refuses to book a GPU registered over REST that went offline without ever sending a heartbeat', async () => {
    const reg = await minerRegister('ghost-rig', { model: 'RTX 4080', memory_gb: 16, price_per_hour: 0.4, uuid: 'GPU-ghost' });
    const gpuId = reg.body.gpus[0].id;
    await waitFor(async () => (await call('GET', `/v1/marketplace/gpu/${gpuId}`, { key: KEYS.client })).body.status === 'offline', 6000, 'offline after the TTL');
    // Booking hears of it from the offline event, which must not look older than the registration.
    const quote = () => call('POST', `/v1/marketplace/gpu/${gpuId}/book?dry_run=true`, { key: KEYS.client, body: { duration_hours: 1 } });
    await waitFor(async () => (await quote()).status === 409, 5000, 'booking to learn it is offline (a dry run says 409 offline)');
    const booked = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client, body: { duration_hours: 1 } });
    assert.equal(booked.status, 409, JSON.stringify(booked.body));
  });

  it('answers 404 to a heartbeat of a miner with no GPUs, and scopes miners to the account', async () => {
    const res = await heartbeat('never-registered');
    assert.equal(res.status, 404);
    assert.match(res.body.detail, /register the miner first/);
    // beta has no miner called cli-miner: acme's GPUs are not touched.
    assert.equal((await heartbeat('cli-miner')).status, 200);
    const other = await heartbeat('cli-miner', 'OFFLINE', KEYS.provider2);
    assert.equal(other.status, 404);
    assert.equal((await mesh.db('gpus').where({ owner_id: 'acme', miner_id: 'cli-miner' }).first()).online, true);
  });

  it('refuses bad miner input with 400 naming the field, and changes nothing', async () => {
    const before = await snapshot();
    const cases: [unknown, string][] = [
      [{ model: 'X', memory_gb: 0 }, 'capabilities.gpu.memory_gb'],
      [{ memory_gb: 8 }, 'capabilities.gpu.name'],
      [{ model: 'X', memory_gb: 8, watts: 300 }, 'capabilities.gpu.watts'],
      [[{ model: 'X', memory_gb: 8 }, { model: 'Y', memory_gb: -1 }], 'capabilities.gpu[1].memory_gb'],
      [Array.from({ length: 65 }, () => ({ model: 'X', memory_gb: 8 })), 'capabilities.gpu'],
    ];
    for (const [gpu, field] of cases) {
      const res = await minerRegister('bad-miner', gpu);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.ok(String(res.body.detail).includes(field), `${res.body.detail} should name ${field}`);
    }
    const noCaps = await call('POST', '/v1/miners/register', { key: KEYS.provider, body: {} });
    assert.equal(noCaps.status, 400);
    assert.match(noCaps.body.detail, /capabilities: is required/);
    const badStatus = await heartbeat('cli-miner', 'SLEEPING');
    assert.equal(badStatus.status, 400);
    assert.match(badStatus.body.detail, /status/);
    const client = await minerRegister('x', { model: 'X', memory_gb: 8 }, KEYS.client);
    assert.equal(client.status, 403);
    const noKey = await call('POST', '/v1/miners/heartbeat', { body: {} });
    assert.equal(noKey.status, 401);
    assert.deepEqual(await snapshot(), before);
  });
});
