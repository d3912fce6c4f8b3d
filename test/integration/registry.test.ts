import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { Role } from '../../lib/caller';
import { DomainError } from '../../lib/errors';
import { GpuSort, GpuSpec, RegistryServiceClient, RegistryServiceService } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { checkHealth, connect, healthChannel } from '../../lib/grpcClient';
import { createGrpcServer } from '../../lib/grpcServer';
import { createCallAuthenticator } from '../../lib/callAuth';
import { createKeyStore, parseKeyList } from '../../lib/apiKeys';
import { createLogger } from '../../lib/logger';
import type { RunningService } from '../../lib/service';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import { registryStore } from '../../services/registry/src/store';
import { createMemoryBus } from '../../lib/events/memoryBus';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { LOG_LEVEL, testClient, KEY_LIST } from '../support/testMesh';

const provider = { accountId: 'acme', role: Role.ROLE_PROVIDER };
const client = { accountId: 'alice', role: Role.ROLE_CLIENT };
const spec = (over: Partial<GpuSpec> = {}) => GpuSpec.fromPartial({ model: 'RTX 4090', memoryGb: 24, pricePerHourMicro: 500_000, ...over });

/** Expects a promise to reject with a DomainError of `code` (the gRPC status, mapped back). */
async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DomainError, String(err));
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  throw new assert.AssertionError({ message: `expected ${code}` });
}

describe('registry over gRPC against PostgreSQL', () => {
  let database: TestDatabase;
  let registry: RunningService;
  let handle: ReturnType<typeof connect<RegistryServiceClient>>;
  const rpc = () => handle.client;

  before(async () => {
    database = await createTestDatabase();
    registry = await startRegistry(readRegistryConfig({ REGISTRY_PORT: '0', MINER_PORT: '0', GRPC_REFLECTION: 'true', HEARTBEAT_TTL_SECONDS: '86400' }, { databaseUrl: database.url, apiKeys: KEY_LIST }), createLogger('registry', LOG_LEVEL),
      { bus: createMemoryBus() });
    handle = testClient(RegistryServiceClient, registry.address, 5000);
  });
  after(async () => {
    handle?.close();
    await registry?.stop();
    await database?.drop();
  });

  it('reports SERVING on grpc.health.v1 and lists its service by reflection', async () => {
    const channel = healthChannel(registry.address);
    assert.equal(await checkHealth(channel, 1000), 'SERVING');
    channel.close();
    const def = protoLoader.loadSync(path.join(require.resolve('@grpc/reflection'), '../../proto/grpc/reflection/v1/reflection.proto'), { keepCase: true });
    const Reflection = (grpc.loadPackageDefinition(def) as any).grpc.reflection.v1.ServerReflection;
    const reflection = new Reflection(registry.address, grpc.credentials.createInsecure());
    const services = await new Promise<string[]>((resolve, reject) => {
      const stream = reflection.ServerReflectionInfo({ deadline: Date.now() + 3000 });
      stream.on('data', (msg: any) => {
        resolve(msg.list_services_response.service.map((s: { name: string }) => s.name));
        stream.end();
      });
      stream.on('error', reject);
      stream.write({ list_services: '' });
    });
    reflection.close();
    assert.ok(services.includes('aitbc.marketplace.v1.RegistryService'), services.join());
    // Never on the public miner port, even with GRPC_REFLECTION=true: it would describe the internal API.
    const outside = new Reflection(registry.publicAddress, grpc.credentials.createInsecure());
    const code = await new Promise<number>((resolve) => {
      const stream = outside.ServerReflectionInfo({ deadline: Date.now() + 3000 });
      stream.on('data', () => resolve(grpc.status.OK));
      stream.on('error', (err: grpc.ServiceError) => resolve(err.code));
      stream.write({ list_services: '' });
    });
    outside.close();
    assert.equal(code, grpc.status.UNIMPLEMENTED);
  });

  it('maps domain errors to gRPC status codes with the offending field', async () => {
    // No caller named: the gateway's key acts as the gateway, a service, which owns no GPUs.
    await rejectsWith(rpc().registerGpu({ minerId: 'r', spec: spec() }), 'PERMISSION_DENIED');
    await rejectsWith(rpc().registerGpu({ caller: client, minerId: 'r', spec: spec() }), 'PERMISSION_DENIED');
    const err = await rejectsWith(rpc().registerGpu({ caller: provider, minerId: 'r', spec: spec({ memoryGb: 0 }) }), 'INVALID_ARGUMENT');
    assert.equal(err.field, 'memory_gb');
    await rejectsWith(rpc().registerGpu({ caller: provider, minerId: 'r', spec: spec({ pricePerHourMicro: undefined }) }), 'INVALID_ARGUMENT', /price_per_hour: is required/);
    await rejectsWith(rpc().getGpu({ caller: client, id: 'gpu_00000000000000000000' }), 'NOT_FOUND');
    await rejectsWith(rpc().listGpus({ caller: client, limit: 1000, model: '', region: '', minerId: '', sort: 0, status: 0, cursor: '', ownerId: '' }), 'INVALID_ARGUMENT', /limit/);
  });

  it('creates one GPU when twenty registrations of one hardware UUID race', async () => {
    const uuid = 'GPU-race-0000';
    const results = await Promise.all(Array.from({ length: 20 }, () =>
      rpc().registerGpu({ caller: provider, minerId: 'race', spec: spec({ uuid }) })));
    assert.equal(new Set(results.map((r) => r.gpu!.id)).size, 1);
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal((await registry.db('gpus').where({ uuid })).length, 1);
  });

  it('pages through 300 GPUs in every sort without losing or repeating one', async () => {
    await registry.db('gpus').del();
    const gpus = Array.from({ length: 300 }, (_, i) => spec({
      uuid: `GPU-page-${i}`, memoryGb: 8 * (1 + (i % 5)), pricePerHourMicro: 100_000 * (1 + (i % 7)), model: i % 3 ? 'RTX 4090' : 'A100',
    }));
    for (let i = 0; i < gpus.length; i += 50) {
      await rpc().registerMiner({ caller: provider, minerId: `rig-${i}`, existingOnly: false, gpus: gpus.slice(i, i + 50) });
    }
    // Ties on the sort column are the point: id breaks them, and ratings differ a little.
    await registry.db.raw("UPDATE gpus SET average_rating = (abs(hashtext(id)) % 5) + 0.5");
    for (const sort of [GpuSort.GPU_SORT_NEWEST, GpuSort.GPU_SORT_PRICE_ASC, GpuSort.GPU_SORT_PRICE_DESC, GpuSort.GPU_SORT_MEMORY_DESC, GpuSort.GPU_SORT_RATING_ASC]) {
      const seen: string[] = [];
      let cursor = '';
      do {
        const page = await rpc().listGpus({ caller: client, sort, limit: 37, cursor, model: '', region: '', minerId: '', status: 0, ownerId: '' });
        seen.push(...page.gpus.map((g) => g.id));
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(seen.length, 300, `sort ${sort}`);
      assert.equal(new Set(seen).size, 300, `sort ${sort}`);
    }
  });

  it('turns each stale GPU offline exactly once with two sweepers racing', async () => {
    // (The service's own sweeper runs with a day's TTL here: only these two race.)
    await registry.db('gpus').update({ online: true, last_heartbeat_at: registry.db.raw("now() - interval '1 hour'") });
    const stale = Number((await registry.db('gpus').count({ n: '*' }))[0].n);
    const [a, b] = await Promise.all([registryStore.sweepOffline(registry.db, 30), registryStore.sweepOffline(registry.db, 30)]);
    assert.equal(a.length + b.length, stale);
    assert.equal(new Set([...a, ...b].map((r) => r.id)).size, stale);
    assert.deepEqual(await registryStore.sweepOffline(registry.db, 30), []);
  });
});

describe('gRPC client deadlines', () => {
  it('gives up with DEADLINE_EXCEEDED when a server does not answer in time', async () => {
    const logger = createLogger('slow', 'silent');
    const never = () => new Promise<never>(() => undefined);
    const auth = createCallAuthenticator({ keys: createKeyStore(parseKeyList(KEY_LIST)), forwarders: new Set(['gateway']) });
    const server = createGrpcServer({ logger, protoFiles: ['aitbc/marketplace/v1/registry.proto'], auth }, [{
      definition: RegistryServiceService,
      implementation: { registerGpu: never, getGpu: never, listGpus: never, unregisterGpu: never, registerMiner: never, minerHeartbeat: never,
        publishOffer: never, listOffers: never, syncOffers: never, getMiner: never, unregisterMiner: never, listGpuChanges: never },
    }]);
    const port = await server.listen('127.0.0.1', 0);
    const handle = testClient(RegistryServiceClient, `127.0.0.1:${port}`, 150);
    const started = Date.now();
    await rejectsWith(handle.client.getGpu({ caller: client, id: 'x' }), 'DEADLINE_EXCEEDED');
    assert.ok(Date.now() - started < 2000);
    handle.close();
    await server.stop(100);
  });
});
