import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { Role } from '../../lib/caller';
import type { Delivery } from '../../lib/events/bus';
import { decodePayload } from '../../lib/events/envelope';
import type { GpuStatusChanged } from '../../lib/gen/aitbc/marketplace/v1/events';
import { type ConnectRequest, type ConnectResponse, type GpuInventory, MinerServiceClient } from '../../lib/gen/aitbc/marketplace/v1/miner';
import { GpuStatus, RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { checkHealth,  healthChannel, type ClientHandle } from '../../lib/grpcClient';
import { createLogger } from '../../lib/logger';
import { ROOT } from '../../lib/paths';
import type { RunningService } from '../../lib/service';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import { deleteStream, NATS_URL, recordEvents, testPrefix, waitFor } from '../support/events';
import { connectNatsBus } from '../../lib/events/natsBus';
import { newEvent } from '../../lib/events/envelope';
import { EventEnvelope } from '../../lib/gen/aitbc/marketplace/v1/events';
import { Booking } from '../../lib/gen/aitbc/marketplace/v1/booking';
import { readAccountsConfig, startAccounts } from '../../services/accounts/src/main';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { KEY_LIST, KEYS, LOG_LEVEL, testClient } from '../support/testMesh';

const TS = ['--require', require.resolve('tsx/cjs')];
const client = { accountId: 'alice', role: Role.ROLE_CLIENT };
const inventory = (n: number, prefix = 'GPU-t'): GpuInventory[] => Array.from({ length: n }, (_, i) => ({
  uuid: `${prefix}-${i}`, model: 'RTX 4090', memoryGb: 24, cudaCores: 16384, cudaVersion: '12.4', driverVersion: '550.54.15', computeCapability: '8.9', region: '',
}));

/** A raw miner stream, recording what the registry sends and how the stream ends. */
function openStream(address: string, key?: string) {
  const c = new MinerServiceClient(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (key) metadata.set('x-api-key', key);
  const stream: grpc.ClientDuplexStream<ConnectRequest, ConnectResponse> = c.connect(metadata);
  const received: ConnectResponse[] = [];
  let status: grpc.StatusObject | undefined;
  stream.on('data', (m: ConnectResponse) => received.push(m));
  stream.on('error', () => undefined);
  stream.on('status', (s: grpc.StatusObject) => (status = s));
  return {
    stream, received, status: () => status,
    hello: (gpus: GpuInventory[], minerId = 'rig') => stream.write({ kind: { $case: 'hello', value: { minerId, gpus, agentVersion: 't' } } }),
    beat: (gpus: { uuid: string; utilization?: number; temperatureC?: number }[]) => stream.write({ kind: { $case: 'heartbeat', value: {
      gpus: gpus.map((g) => ({ uuid: g.uuid, utilization: g.utilization ?? 10, memoryUsedGb: 1, temperatureC: g.temperatureC ?? 50, powerW: 100, healthy: true })),
    } } }),
    close: () => c.close(),
  };
}

describe('miner sessions over gRPC', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let prefix: string;
  let registry: RunningService;
  let handle: ClientHandle<RegistryServiceClient>;
  let accounts: RunningService;
  let changes: Delivery[];
  let recorder: { stop(): Promise<void> };

  before(async () => {
    database = await createTestDatabase();
    prefix = testPrefix();
    // Miner keys are checked with the accounts service (seeded from the same key list).
    accounts = await startAccounts(readAccountsConfig({ ACCOUNTS_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix }, { databaseUrl: database.url, apiKeys: KEY_LIST }),
      createLogger('accounts', LOG_LEVEL));
    registry = await startRegistry(readRegistryConfig(
      { REGISTRY_PORT: '0', MINER_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, HEARTBEAT_TTL_SECONDS: '2', HEARTBEAT_INTERVAL_SECONDS: '1', HEARTBEAT_FLUSH_MS: '200', SHUTDOWN_TIMEOUT_MS: '5000' },
      { databaseUrl: database.url, apiKeys: KEY_LIST, accountsAddr: accounts.address },
    ), createLogger('registry', LOG_LEVEL));
    handle = testClient(RegistryServiceClient, registry.address, 5000);
    const recording = await recordEvents(prefix, ['gpu.status_changed']);
    ({ seen: changes } = recording);
    recorder = recording;
  });
  after(async () => {
    await recorder?.stop();
    handle?.close();
    await registry?.stop();
    await accounts?.stop();
    await deleteStream(prefix);
    await database?.drop();
  });

  const list = async (minerId: string) => (await handle.client.listGpus({
    caller: client, minerId, limit: 100, model: '', region: '', status: 0, sort: 0, cursor: '', ownerId: '',
  })).gpus;

  it('runs the agent: its GPUs come online, go offline within TTL + 1 s of a kill (one event each), and come back without duplicates', async () => {
    const agent = (): ChildProcess => spawn(process.execPath, [...TS, 'bin/miner.ts', '--simulate', '3', '--api-key', KEYS.provider,
      '--miner-id', 'rig-agent', '--registry', registry.publicAddress!], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    let first: ChildProcess | undefined = agent();
    let second: ChildProcess | undefined;
    try {
      await waitFor(async () => (await list('rig-agent')).filter((g) => g.status === GpuStatus.GPU_STATUS_AVAILABLE).length === 3, 20_000, 'three GPUs online');
      const ids = (await list('rig-agent')).map((g) => g.id).sort();
      await new Promise((r) => setTimeout(r, 1500)); // a few heartbeats
      const killedAt = Date.now();
      first.kill('SIGKILL');
      first = undefined;
      await waitFor(async () => (await list('rig-agent')).every((g) => g.status === GpuStatus.GPU_STATUS_OFFLINE), 10_000, 'offline');
      const delay = Date.now() - killedAt;
      process.stdout.write(`      [figures] agent killed → its GPUs offline after ${delay} ms (TTL 2 s)\n`);
      assert.ok(delay <= 3000 + 300, `offline after ${delay} ms, more than TTL + 1 s`);
      await new Promise((r) => setTimeout(r, 500));
      const offline = changes.filter((d) => ids.includes(d.envelope.aggregateId)
        && (decodePayload(d.envelope) as GpuStatusChanged).status === GpuStatus.GPU_STATUS_OFFLINE);
      assert.equal(offline.length, 3, 'exactly one offline event per GPU');

      second = agent();
      await waitFor(async () => (await list('rig-agent')).every((g) => g.status === GpuStatus.GPU_STATUS_AVAILABLE), 20_000, 'back online');
      assert.deepEqual((await list('rig-agent')).map((g) => g.id).sort(), ids, 'the same GPUs, no duplicates');
    } finally {
      first?.kill('SIGKILL');
      second?.kill('SIGKILL');
    }
  });

  it('refuses bad sessions with the right status and bad telemetry field by field, and keeps serving', async () => {
    const ended = async (s: ReturnType<typeof openStream>) => {
      await waitFor(() => s.status() !== undefined, 5000, 'the stream to end');
      s.close();
      return s.status()!;
    };
    const noKey = openStream(registry.publicAddress!);
    noKey.hello(inventory(1));
    assert.equal((await ended(noKey)).code, grpc.status.UNAUTHENTICATED);
    const clientKey = openStream(registry.publicAddress!, KEYS.client);
    clientKey.hello(inventory(1));
    assert.equal((await ended(clientKey)).code, grpc.status.PERMISSION_DENIED);
    const early = openStream(registry.publicAddress!, KEYS.provider);
    early.beat([{ uuid: 'GPU-x' }]);
    const earlyStatus = await ended(early);
    assert.equal(earlyStatus.code, grpc.status.INVALID_ARGUMENT);
    assert.match(earlyStatus.details, /hello/);
    const huge = openStream(registry.publicAddress!, KEYS.provider);
    huge.hello(inventory(65, 'GPU-huge'));
    const hugeStatus = await ended(huge);
    assert.equal(hugeStatus.code, grpc.status.INVALID_ARGUMENT);
    assert.match(hugeStatus.details, /hello\.gpus: must describe at most 64/);
    const noUuid = openStream(registry.publicAddress!, KEYS.provider);
    noUuid.hello([{ ...inventory(1)[0], uuid: '' }]);
    assert.match((await ended(noUuid)).details, /hello\.gpus\[0\]\.uuid/);
    const badMemory = openStream(registry.publicAddress!, KEYS.provider);
    badMemory.hello([{ ...inventory(1)[0], memoryGb: 0 }]);
    assert.match((await ended(badMemory)).details, /memory_gb/);
    assert.equal((await list('rig')).length, 0, 'nothing was registered by refused hellos');
    const twice = openStream(registry.publicAddress!, KEYS.provider);
    twice.hello([...inventory(1, 'GPU-dup'), ...inventory(1, 'gpu-DUP')], 'rig');
    assert.match((await ended(twice)).details, /listed before in the same request/);
    const rehello = openStream(registry.publicAddress!, KEYS.provider);
    rehello.hello(inventory(1, 'GPU-once'), 'rig-once');
    rehello.hello(inventory(1, 'GPU-once-b'), 'rig-other');
    assert.match((await ended(rehello)).details, /said hello already/);
    assert.equal((await list('rig-other')).length, 0, 'the second hello registered nothing');

    const good = openStream(registry.publicAddress!, KEYS.provider);
    good.hello(inventory(2, 'GPU-good'), 'rig-good');
    await waitFor(() => good.received.length === 1, 5000, 'welcome');
    assert.equal(good.received[0].kind?.$case, 'welcome');
    good.beat([{ uuid: 'GPU-good-0', temperatureC: -40, utilization: 300 }, { uuid: 'GPU-unknown' }, { uuid: 'GPU-good-1' }]);
    await waitFor(() => good.received.length === 2, 5000, 'ack');
    const ack = good.received[1].kind;
    assert.equal(ack?.$case, 'ack');
    if (ack?.$case !== 'ack') return;
    assert.equal(ack.value.accepted, 2);
    assert.deepEqual(ack.value.rejected.map((r) => r.field).sort(), ['gpus[0].temperature_c', 'gpus[0].utilization', 'gpus[1].uuid']);
    good.stream.end();
    good.close();
    const channel = healthChannel(registry.address);
    assert.equal(await checkHealth(channel, 1000), 'SERVING');
    channel.close();
  });

  it("keeps every miner's liveness when one sends telemetry a database column cannot hold (a subnormal 5e-324)", async () => {
    const poison = openStream(registry.publicAddress!, KEYS.provider);
    const honest = openStream(registry.publicAddress!, KEYS.provider2);
    try {
      poison.hello(inventory(1, 'GPU-poison'), 'poison-rig');
      honest.hello(inventory(1, 'GPU-honest'), 'honest-rig');
      await waitFor(() => poison.received.length > 0 && honest.received.length > 0, 5000, 'both welcomed');
      const [honestGpu] = await list('honest-rig');
      for (let i = 0; i < 4; i++) {
        poison.beat([{ uuid: 'GPU-poison-0', utilization: 5e-324 }]);
        honest.beat([{ uuid: 'GPU-honest-0', utilization: 42 }]);
        await new Promise((r) => setTimeout(r, 300));
      }
      const before = (await handle.client.getGpu({ caller: client, id: honestGpu.id })).gpu!;
      assert.equal(before.telemetry?.utilization, 42, "the honest miner's reading is stored");
      const [poisoned] = await list('poison-rig');
      assert.equal(poisoned.telemetry?.utilization, 0, 'the subnormal is kept as 0.0, not refused by the database');
      // Liveness keeps being written for both: last_heartbeat_at moves on.
      honest.beat([{ uuid: 'GPU-honest-0' }]);
      await waitFor(async () => (await handle.client.getGpu({ caller: client, id: honestGpu.id })).gpu!.lastHeartbeatAt! > before.lastHeartbeatAt!, 3000, 'the next beat written');
    } finally {
      poison.stream.end();
      honest.stream.end();
      poison.close();
      honest.close();
    }
  });

  it('throttles failed miner logins by address: RESOURCE_EXHAUSTED for unknown keys, a good provider key unaffected', async () => {
    // A replica of its own, so the throttled address does not disturb the other tests.
    const strict = await startRegistry(readRegistryConfig(
      { REGISTRY_PORT: '0', MINER_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, AUTH_FAILURE_BURST: '3', AUTH_FAILURES_PER_SECOND: '1' },
      { databaseUrl: database.url, apiKeys: KEY_LIST, accountsAddr: accounts.address },
    ), createLogger('registry-strict', LOG_LEVEL));
    try {
      const attempt = async (key: string) => {
        const s = openStream(strict.publicAddress!, key);
        s.hello(inventory(1, 'GPU-throttle'));
        await waitFor(() => s.status() !== undefined, 5000, 'the stream to end');
        s.stream.end();
        s.close();
        return s.status()!;
      };
      // The rig's key in use from this address before the spray: it is known, and stays usable.
      const before = openStream(strict.publicAddress!, KEYS.provider);
      before.hello(inventory(1, 'GPU-throttle'));
      await waitFor(() => before.received.length > 0, 5000, 'a first welcome');
      before.stream.end();
      before.close();
      const codes = [];
      for (let i = 0; i < 5; i++) codes.push((await attempt(`wrong-provider-key-${i}-xxxxxxxx`)).code);
      const { UNAUTHENTICATED, RESOURCE_EXHAUSTED } = grpc.status;
      assert.deepEqual(codes, [UNAUTHENTICATED, UNAUTHENTICATED, UNAUTHENTICATED, RESOURCE_EXHAUSTED, RESOURCE_EXHAUSTED]);
      const throttled = await attempt('yet-another-wrong-key-xxxxxxxx');
      assert.equal(throttled.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(throttled.details, /too many failed logins from this address; retry after \d+ s/);
      const s = openStream(strict.publicAddress!, KEYS.provider);
      s.hello(inventory(1, 'GPU-throttle'));
      await waitFor(() => s.received.length > 0 || s.status() !== undefined, 5000, 'a welcome');
      assert.equal(s.received[0]?.kind?.$case, 'welcome');
      s.stream.end();
      s.close();
    } finally {
      await strict.stop();
    }
  });

  it("tells a miner when one of its GPUs is booked and when the booking ends", async () => {
    const session = openStream(registry.publicAddress!, KEYS.provider);
    session.hello(inventory(1, 'GPU-notice'), 'rig-notice');
    await waitFor(() => session.received.length === 1, 5000, 'welcome');
    const welcome = session.received[0].kind;
    assert.equal(welcome?.$case, 'welcome');
    const gpuId = welcome?.$case === 'welcome' ? welcome.value.gpus[0].id : '';
    const publisher = await connectNatsBus({ url: NATS_URL, prefix, name: 'notice-test', logger: createLogger('t', 'silent') });
    try {
      const booking = Booking.fromPartial({ bookingId: 'bkg_notice', gpuId, clientId: 'alice', startTime: new Date(), endTime: new Date(Date.now() + 3_600_000) });
      const send = (envelope: ReturnType<typeof newEvent>) => publisher.publish([{
        id: envelope.eventId, subject: publisher.subject(envelope.type), aggregateId: envelope.aggregateId, data: EventEnvelope.encode(envelope).finish(),
      }]);
      await send(newEvent('booking.created', 'test', 'bkg_notice', { booking }));
      await waitFor(() => session.received.some((m) => m.kind?.$case === 'booking'), 5000, 'booked notice');
      await send(newEvent('booking.ended', 'test', 'bkg_notice', { booking, reason: 'released' }));
      await waitFor(() => session.received.filter((m) => m.kind?.$case === 'booking').length === 2, 5000, 'ended notice');
      const notices = session.received.flatMap((m) => (m.kind?.$case === 'booking' ? [m.kind.value] : []));
      assert.deepEqual(notices.map((n) => [n.gpuId, n.bookingId, n.started, n.reason]), [[gpuId, 'bkg_notice', true, ''], [gpuId, 'bkg_notice', false, 'released']]);
    } finally {
      await publisher.close();
      session.stream.end();
      session.close();
    }
  });

  it('shuts down with 100 open streams within the shutdown timeout, ending them with UNAVAILABLE', async () => {
    const streams = Array.from({ length: 100 }, () => openStream(registry.publicAddress!, KEYS.provider));
    streams.forEach((s, i) => s.hello(inventory(1, `GPU-many-${i}`), `rig-many-${i}`));
    await waitFor(() => streams.every((s) => s.received.length === 1), 20_000, '100 welcomes');
    const started = Date.now();
    await registry.stop();
    const took = Date.now() - started;
    process.stdout.write(`      [figures] shutdown with 100 open miner streams took ${took} ms (timeout 5000 ms)\n`);
    assert.ok(took < 5000, `shutdown took ${took} ms`);
    await waitFor(() => streams.every((s) => s.status() !== undefined), 5000, 'streams ended');
    assert.ok(streams.every((s) => s.status()!.code === grpc.status.UNAVAILABLE));
    streams.forEach((s) => s.close());
  });
});
