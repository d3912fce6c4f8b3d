import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Delivery } from '../../lib/events/bus';
import { decodePayload } from '../../lib/events/envelope';
import type { GpuStatusChanged, GpuRegistered, GpuUnregistered } from '../../lib/gen/aitbc/marketplace/v1/events';
import { GpuStatus } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { ROOT } from '../../lib/paths';
import { NATS_URL, recordEvents, waitFor } from '../support/events';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

describe('registry events on NATS, through the gateway', () => {
  let mesh: TestMesh & { prefix: string };
  let seen: Delivery[];
  let recorder: { stop(): Promise<void> };
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const ofType = (type: string, aggregate?: string) =>
    seen.filter((d) => d.envelope.type === type && (!aggregate || d.envelope.aggregateId === aggregate));

  before(async () => {
    mesh = await startTestMesh({ HEARTBEAT_TTL_SECONDS: '2', HEARTBEAT_INTERVAL_SECONDS: '1' });
    const recording = await recordEvents(mesh.prefix, ['gpu.>']);
    ({ seen } = recording);
    recorder = recording;
  });
  after(async () => {
    await recorder?.stop();
    await mesh?.stop();
  });

  it('publishes exactly one gpu.registered per registration, with the GPU in it', async () => {
    const res = await call('POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': 'ev-rig' },
      body: { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.5, uuid: 'GPU-events-1' } },
    });
    assert.equal(res.status, 201);
    const id = res.body.gpu_id;
    await waitFor(() => ofType('gpu.registered', id).length >= 1, 5000, 'gpu.registered');
    await new Promise((r) => setTimeout(r, 300));
    const events = ofType('gpu.registered', id);
    assert.equal(events.length, 1);
    const { envelope, subject } = events[0];
    assert.equal(subject, `${mesh.prefix}.gpu.registered`);
    assert.equal(envelope.source, 'registry');
    assert.match(envelope.eventId, /^evt_/);
    const payload = decodePayload(envelope) as GpuRegistered;
    assert.equal(payload.gpu?.id, id);
    assert.equal(payload.gpu?.pricePerHourMicro, 500_000);
    // Every event sits in the outbox, marked published.
    const rows = await mesh.db('outbox').where({ aggregate_id: id });
    assert.equal(rows.length, 1);
    assert.ok(rows[0].published_at instanceof Date);

    // The same hardware UUID again: gpu.updated, not a second registration.
    await call('POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': 'ev-rig' },
      body: { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.6, uuid: 'GPU-events-1' } },
    });
    await waitFor(() => ofType('gpu.updated', id).length === 1, 5000, 'gpu.updated');
    assert.equal(ofType('gpu.registered', id).length, 1);
  });

  it('publishes one gpu.status_changed per GPU when heartbeats stop, and one when they return', async () => {
    const res = await call('POST', '/v1/miners/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': 'ev-miner' },
      body: { capabilities: { gpu: [{ model: 'A100', memory_gb: 80 }, { model: 'A100', memory_gb: 80 }] } },
    });
    const ids: string[] = res.body.gpus.map((g: { id: string }) => g.id);
    await waitFor(() => ids.every((id) => ofType('gpu.status_changed', id).length === 1), 6000, 'offline transitions');
    for (const id of ids) {
      const change = decodePayload(ofType('gpu.status_changed', id)[0].envelope) as GpuStatusChanged;
      assert.equal(change.status, GpuStatus.GPU_STATUS_OFFLINE);
      assert.equal(change.previousStatus, GpuStatus.GPU_STATUS_AVAILABLE);
      assert.equal(change.reason, 'heartbeat_timeout');
      // When it was last heard from: at registration, a TTL or more before the event.
      const lastSeen = change.lastHeartbeatAt!.getTime();
      const registeredAt = Date.parse(res.body.gpus.find((g: { id: string }) => g.id === id).last_heartbeat_at);
      assert.equal(lastSeen, registeredAt);
      assert.ok(ofType('gpu.status_changed', id)[0].envelope.occurredAt!.getTime() > lastSeen);
    }
    await call('POST', '/v1/miners/heartbeat', { key: KEYS.provider, headers: { 'X-Miner-ID': 'ev-miner' }, body: { status: 'ONLINE' } });
    await waitFor(() => ids.every((id) => ofType('gpu.status_changed', id).length === 2), 5000, 'online transitions');
    const back = decodePayload(ofType('gpu.status_changed', ids[0])[1].envelope) as GpuStatusChanged;
    assert.equal(back.status, GpuStatus.GPU_STATUS_AVAILABLE);
    assert.equal(back.reason, 'heartbeat');
  });

  it('publishes gpu.unregistered, marked forced when a live booking was overridden', async () => {
    const { body } = await call('POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, body: { gpu: { name: 'L40S', memory_gb: 48, price_per_hour: 1 } },
    });
    await mesh.db('gpus').where({ id: body.gpu_id }).update({ booking_expires: new Date(Date.now() + 600_000), current_booking_id: 'bkg_live' });
    assert.equal((await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}?force=true`, { key: KEYS.provider })).status, 200);
    await waitFor(() => ofType('gpu.unregistered', body.gpu_id).length === 1, 5000, 'gpu.unregistered');
    const gone = decodePayload(ofType('gpu.unregistered', body.gpu_id)[0].envelope) as GpuUnregistered;
    assert.equal(gone.forced, true);
    assert.equal(gone.currentBookingId, 'bkg_live');
  });

  it('publishes nothing for a rejected request', async () => {
    const before = await mesh.db('outbox').count({ n: '*' });
    const res = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, body: { gpu: { name: 'X', memory_gb: 0, price_per_hour: 1 } } });
    assert.equal(res.status, 400);
    assert.deepEqual(await mesh.db('outbox').count({ n: '*' }), before);
  });

  it('shows a registration in the event tail (npm run events) as one decoded JSON line', async () => {
    const tail = spawn(process.execPath, [require.resolve('tsx/cli'), 'bin/events.ts', '--subject', `${mesh.prefix}.>`, '--nats', NATS_URL], { cwd: ROOT });
    let out = '';
    let err = '';
    tail.stdout.on('data', (d) => (out += d));
    tail.stderr.on('data', (d) => (err += d));
    try {
      await waitFor(() => err.includes('tailing'), 15_000, 'the tail to start');
      const res = await call('POST', '/v1/marketplace/gpu/register', {
        key: KEYS.provider, body: { gpu: { name: 'H100', memory_gb: 80, price_per_hour: 3 } },
      });
      await waitFor(() => out.includes(res.body.gpu_id), 5000, 'the event in the tail');
      const lines = out.trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.aggregate_id === res.body.gpu_id);
      assert.equal(lines.length, 1);
      assert.equal(lines[0].type, 'gpu.registered');
      assert.equal(lines[0].subject, `${mesh.prefix}.gpu.registered`);
      assert.equal(lines[0].payload.gpu.model, 'H100');
    } finally {
      tail.kill('SIGTERM');
    }
  });
});
