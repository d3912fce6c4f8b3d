import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Caller, Role } from '../../lib/gen/aitbc/marketplace/v1/common';
import type { Knex } from '../../lib/db';
import { http, KEYS, LOG_LEVEL, SERVICE_KEYS, startTestMesh, testClient, type TestMesh } from '../support/testMesh';
import type { DomainError } from '../../lib/errors';
import { RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';

/** A request whose only field is its caller (field 1 of every request message of the mesh). */
function callerOnly(caller: Caller): Buffer {
  const body = Buffer.from(Caller.encode(caller).finish());
  return Buffer.concat([Buffer.from([0x0a, body.length]), body]);
}

function varint(value: bigint): Buffer {
  const bytes = [];
  do {
    let byte = Number(value & 0x7fn);
    value >>= 7n;
    if (value) byte |= 0x80;
    bytes.push(byte);
  } while (value);
  return Buffer.from(bytes);
}

function call(address: string, method: grpc.MethodDefinition<unknown, unknown>, request: Buffer, key?: string): Promise<grpc.ServiceError | undefined> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  if (key) metadata.set('authorization', `Bearer ${key}`);
  const deadline = new Date(Date.now() + 5000);
  return new Promise((resolve) => {
    const done = (err: grpc.ServiceError | null) => {
      client.close();
      resolve(err ?? undefined);
    };
    if (method.requestStream) {
      const stream = client.makeBidiStreamRequest(method.path, (b: Buffer) => b, (b: Buffer) => b, metadata, { deadline });
      stream.on('data', () => undefined);
      stream.on('error', done);
      stream.on('end', () => done(null));
    } else {
      client.makeUnaryRequest(method.path, (b: Buffer) => b, (b: Buffer) => b, request, metadata, { deadline }, (err) => done(err));
    }
  });
}

/**
 * A fingerprint of every row of every service schema: equal fingerprints, nothing changed.
 * Pricing's computed prices move by themselves (demand smoothing over time), so of its
 * models only what a caller sets, the base price, counts.
 */
const MOVING = new Set(['pricing.models', 'pricing.price_points', 'pricing.outbox']);
async function fingerprint(db: Knex): Promise<Record<string, string>> {
  const { rows: tables } = await db.raw(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables
    WHERE table_schema IN ('registry', 'booking', 'pricing', 'reviews', 'accounts', 'market') AND table_type = 'BASE TABLE' ORDER BY 1, 2`);
  const out: Record<string, string> = {};
  const hash = async (name: string, sql: string) => {
    const { rows } = await db.raw(`SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM (${sql}) x`);
    out[name] = rows[0].h;
  };
  for (const { s, t } of tables as { s: string; t: string }[]) {
    if (!MOVING.has(`${s}.${t}`)) await hash(`${s}.${t}`, `SELECT * FROM "${s}"."${t}"`);
  }
  await hash('pricing.models (base prices)', 'SELECT model_key, base_price_micro, base_price_source FROM pricing.models');
  return out;
}

describe('every gRPC method of every service refuses forged and missing credentials', function () {
  this.timeout(120_000);
  let mesh: TestMesh;
  before(async () => {
    // Hundreds of refused keys from one address: the throttle is tested elsewhere.
    mesh = await startTestMesh({ LOG_LEVEL, AUTH_FAILURE_BURST: '100000' });
    // Something to steal: a GPU and a live booking of it.
    const gpu = await http(mesh.url, 'POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, body: { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.5 } },
    });
    assert.equal(gpu.status, 201);
    const booked = await http(mesh.url, 'POST', `/v1/marketplace/gpu/${gpu.body.gpu_id}/book`, { key: KEYS.client, body: { duration_hours: 1 } });
    assert.equal(booked.status, 201);
    await new Promise((r) => setTimeout(r, 1500)); // events applied everywhere
  });
  after(() => mesh?.stop());

  const forged = [
    { who: 'no credential', key: undefined, caller: { accountId: 'ops', role: Role.ROLE_ADMIN }, code: grpc.status.UNAUTHENTICATED },
    { who: 'an unknown key', key: 'not-a-key-of-this-mesh-at-all', caller: { accountId: 'ops', role: Role.ROLE_ADMIN }, code: grpc.status.UNAUTHENTICATED },
    { who: 'a client key naming an admin', key: KEYS.client, caller: { accountId: 'ops', role: Role.ROLE_ADMIN }, code: grpc.status.PERMISSION_DENIED },
    { who: 'a client key naming another client', key: KEYS.client, caller: { accountId: 'bob', role: Role.ROLE_CLIENT }, code: grpc.status.PERMISSION_DENIED },
    { who: 'a provider key naming a service', key: KEYS.provider, caller: { accountId: 'coordinator', role: Role.ROLE_SERVICE }, code: grpc.status.PERMISSION_DENIED },
    { who: 'a provider key naming another provider', key: KEYS.provider, caller: { accountId: 'beta', role: Role.ROLE_PROVIDER }, code: grpc.status.PERMISSION_DENIED },
    { who: 'a service key naming an admin', key: SERVICE_KEYS.coordinator, caller: { accountId: 'ops', role: Role.ROLE_ADMIN }, code: grpc.status.PERMISSION_DENIED },
    { who: "the gateway's key naming a service", key: SERVICE_KEYS.gateway, caller: { accountId: 'coordinator', role: Role.ROLE_SERVICE }, code: grpc.status.PERMISSION_DENIED },
  ];

  it('answers each forged call with UNAUTHENTICATED or PERMISSION_DENIED before any handler runs, and nothing changes', async () => {
    const before = await fingerprint(mesh.db);
    const parts = [mesh.registry, mesh.booking, mesh.pricing!, mesh.reviews, mesh.accounts, mesh.market];
    let calls = 0;
    for (const part of parts) {
      for (const { address, definitions } of part.served) {
        for (const definition of definitions) {
          for (const method of Object.values(definition) as grpc.MethodDefinition<unknown, unknown>[]) {
            for (const f of forged) {
              // Streams authenticate the connection: only the credential counts there.
              if (method.requestStream && f.code === grpc.status.PERMISSION_DENIED && f.key !== KEYS.client) continue;
              const err = await call(address, method, callerOnly(f.caller), f.key);
              // Inside the mesh a user's key is no credential at all (only service keys are);
              // on the miner port it is one, checked against the accounts service.
              const userKey = f.key !== undefined && Object.values(KEYS).includes(f.key);
              const code = userKey && address !== mesh.registry.publicAddress ? grpc.status.UNAUTHENTICATED : f.code;
              assert.equal(err?.code, code, `${method.path} with ${f.who}: ${err ? `${grpc.status[err.code]} ${err.details}` : 'succeeded'}`);
              calls++;
            }
          }
        }
      }
    }
    assert.ok(calls > 150, `only ${calls} calls were made`);
    assert.deepEqual(await fingerprint(mesh.db), before);
  });

  it('authenticates a call before it decodes its message: an integer past 2^53 is UNAUTHENTICATED without a key, INVALID_ARGUMENT with one', async () => {
    // SetBasePrice { caller: (none), model (2): "x", base_price_micro (3): 2^60 } as raw protobuf.
    const huge = Buffer.concat([Buffer.from([0x12, 0x01, 0x78, 0x18]), varint(2n ** 60n)]);
    const method = { path: '/aitbc.marketplace.v1.PricingService/SetBasePrice' } as grpc.MethodDefinition<unknown, unknown>;
    assert.equal((await call(mesh.pricing!.address, method, huge))?.code, grpc.status.UNAUTHENTICATED);
    const withKey = await call(mesh.pricing!.address, method, huge, SERVICE_KEYS.coordinator);
    assert.equal(withKey?.code, grpc.status.INVALID_ARGUMENT, withKey?.details);
    assert.equal((await call(mesh.pricing!.address, method, Buffer.from([0xff, 0xff, 0xff]), SERVICE_KEYS.coordinator))?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal((await call(mesh.pricing!.address, method, huge, KEYS.admin))?.code, grpc.status.UNAUTHENTICATED, "an admin's key is for the gateway, not the mesh");
  });

  it('answers a request that quotes a huge id with its status, not a hang (the message is clipped to fit the trailers)', async () => {
    const registry = testClient(RegistryServiceClient, mesh.registry.address, 3000);
    try {
      for (const size of [20_000, 300_000]) {
        const started = Date.now();
        await assert.rejects(registry.client.getGpu({ caller: { accountId: 'alice', role: Role.ROLE_CLIENT }, id: `gpu_${'x'.repeat(size)}` }),
          (err: DomainError) => err.code === 'NOT_FOUND' && err.message.length <= 1000);
        assert.ok(Date.now() - started < 2000, `${size}: answered after ${Date.now() - started} ms`);
      }
      // The channel still works.
      await assert.rejects(registry.client.getGpu({ caller: { accountId: 'alice', role: Role.ROLE_CLIENT }, id: 'gpu_aaaaaaaaaaaaaaaaaaaa' }), (err: DomainError) => err.code === 'NOT_FOUND');
    } finally {
      registry.close();
    }
  });

  it("serves only MinerService and health on the registry's public port, and no reflection unless asked for", async () => {
    const pub = mesh.registry.publicAddress!;
    const internal = mesh.registry.served.find((s) => s.address !== pub)!;
    for (const definition of internal.definitions) {
      for (const method of Object.values(definition) as grpc.MethodDefinition<unknown, unknown>[]) {
        const err = await call(pub, method, callerOnly({ accountId: 'acme', role: Role.ROLE_PROVIDER }), KEYS.provider);
        assert.equal(err?.code, grpc.status.UNIMPLEMENTED, method.path);
      }
    }
    const reflection = { path: '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', requestStream: true, responseStream: true } as grpc.MethodDefinition<unknown, unknown>;
    for (const address of [pub, mesh.registry.address, mesh.booking.address]) {
      assert.equal((await call(address, reflection, Buffer.alloc(0), KEYS.admin))?.code, grpc.status.UNIMPLEMENTED, address);
    }
  });
});
