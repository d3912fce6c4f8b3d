import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { createKeyStore, parseKeyList } from '../../lib/apiKeys';
import { healthChannel } from '../../lib/grpcClient';
import { createLogger } from '../../lib/logger';
import { buildGateway } from '../../gateway/src/app';
import { READY_MAX_AGE_MS } from '../../gateway/src/routes/opsRoutes';
import { readGatewayConfig, startGateway } from '../../gateway/src/main';
import { http, KEY_LIST, KEYS, LOG_LEVEL, startTestMesh, type TestMesh } from '../support/testMesh';

describe('operations endpoints', () => {
  let mesh: TestMesh;
  before(async () => {
    mesh = await startTestMesh();
  });
  after(async () => {
    await mesh?.stop();
  });

  it('/healthz and /readyz answer without a key', async () => {
    const health = await http(mesh.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    const ready = await http(mesh.url, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', services: { registry: 'SERVING', booking: 'SERVING', pricing: 'SERVING', reviews: 'SERVING' } });
  });

  it('/openapi.json documents every GPU, miner, booking, order, pricing and review endpoint', async () => {
    const res = await http(mesh.url, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    assert.match(res.body.openapi, /^3\./);
    for (const path of ['/v1/marketplace/gpu/register', '/v1/marketplace/gpu/list', '/v1/marketplace/gpu/{id}', '/v1/miners/register',
      '/v1/miners/heartbeat', '/v1/marketplace/gpu/{id}/book', '/v1/marketplace/gpu/{id}/confirm', '/v1/marketplace/gpu/{id}/release',
      '/v1/marketplace/bookings/{id}', '/v1/marketplace/bookings/{id}/release', '/v1/marketplace/orders',
      '/v1/marketplace/pricing/{model}', '/v1/marketplace/pricing/{model}/history', '/v1/marketplace/pricing/{model}/base-price',
      '/v1/marketplace/gpu/{id}/reviews', '/v1/marketplace/reviews/{review_id}', '/v1/marketplace/reviews/{review_id}/moderation',
      '/v1/marketplace/gpu/{id}/rating-history']) {
      assert.ok(res.body.paths[path], `${path} missing`);
    }
    assert.ok(res.body.paths['/v1/marketplace/gpu/{id}'].delete);
  });

  it('/metrics is Prometheus text by route template; /docs serves the API page without a key', async () => {
    await http(mesh.url, 'GET', '/v1/marketplace/gpu/gpu_00000000000000000000', { key: KEYS.client });
    const res = await fetch(`${mesh.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /aitbc_gateway_requests_total\{route="\/v1\/marketplace\/gpu\/:id",method="GET",status="404"\} 1/);
    assert.match(text, /aitbc_gateway_request_duration_seconds_bucket\{route="\/v1\/marketplace\/gpu\/:id",method="GET",le="\+Inf"\} 1/);
    assert.doesNotMatch(text, /gpu_00000000000000000000/, 'ids stay out of label values');
    const docs = await fetch(`${mesh.url}/docs`, { redirect: 'follow' });
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
  });

  it('unknown routes are problem+json 404s (after authentication)', async () => {
    assert.equal((await http(mesh.url, 'GET', '/v1/nothing-here', { key: 'not-a-key' })).status, 401);
    const res = await http(mesh.url, 'GET', '/v1/nothing-here', { key: KEYS.client });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  });

  it('answers 429 with Retry-After when an account goes over its rate, other accounts unaffected', async () => {
    const gateway = await startGateway(readGatewayConfig({ PORT: '0', RATE_LIMIT_PER_SECOND: '2', RATE_LIMIT_BURST: '3' }, {
      registryAddr: mesh.registry.address, bookingAddr: mesh.booking.address, pricingAddr: mesh.pricing!.address,
      reviewsAddr: mesh.reviews.address, apiKeys: KEY_LIST,
    }), createLogger('gateway', LOG_LEVEL));
    try {
      const list = (key: string) => http(gateway.url, 'GET', '/v1/marketplace/gpu/list', { key });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await list(KEYS.client)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const limited = await list(KEYS.client);
      assert.equal(limited.headers.get('retry-after'), '1');
      assert.match(limited.body.detail, /too many requests for this account/);
      assert.equal((await list(KEYS.client2)).status, 200);
      assert.equal((await http(gateway.url, 'GET', '/healthz')).status, 200, 'public routes are not limited');
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await list(KEYS.client)).status, 200, 'tokens come back with time');
    } finally {
      await gateway.stop();
    }
  });

  it('throttles unknown keys by client address: 429 with Retry-After for every key from it, then lets it back', async () => {
    const gateway = await startGateway(readGatewayConfig({ PORT: '0', AUTH_FAILURE_BURST: '5', AUTH_FAILURES_PER_SECOND: '1' }, {
      registryAddr: mesh.registry.address, bookingAddr: mesh.booking.address, pricingAddr: mesh.pricing!.address,
      reviewsAddr: mesh.reviews.address, apiKeys: KEY_LIST,
    }), createLogger('gateway', LOG_LEVEL));
    try {
      const list = (key: string) => http(gateway.url, 'GET', '/v1/marketplace/gpu/list', { key });
      const guesses = await Promise.all(Array.from({ length: 300 }, (_, i) => list(`guess-${i}-padded-to-a-real-length`)));
      const statuses = guesses.map((g) => g.status);
      assert.equal(statuses.filter((s) => s === 401).length, 5, 'the burst, then no more key is looked at');
      assert.equal(statuses.filter((s) => s === 429).length, 295);
      const refused = guesses.find((g) => g.status === 429)!;
      assert.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.match(refused.body.detail, /too many unknown API keys from this address/);
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(wait >= 1, String(wait));
      assert.equal((await list(KEYS.client)).status, 429, 'a good key from a throttled address waits too');
      assert.equal((await http(gateway.url, 'GET', '/healthz')).status, 200, 'public routes are not throttled');
      await new Promise((r) => setTimeout(r, wait * 1000 + 100));
      assert.equal((await list(KEYS.client)).status, 200);
    } finally {
      await gateway.stop();
    }
  });

  it('/readyz answers from a result at most a second old: 200 requests, one health call per service', async () => {
    let checks = 0;
    const server = new grpc.Server({ interceptors: [(_methodDescriptor, call) => {
      checks++;
      return new grpc.ServerInterceptingCall(call);
    }] });
    new HealthImplementation({ '': 'SERVING' }).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    const channel = healthChannel(`127.0.0.1:${port}`);
    const app = await buildGateway({
      registry: {} as never, booking: {} as never, pricing: {} as never, reviews: {} as never, keys: createKeyStore(parseKeyList(KEY_LIST)),
      logger: createLogger('gateway', LOG_LEVEL), backends: [{ name: 'x', channel }],
    });
    try {
      const answers = await Promise.all(Array.from({ length: 200 }, () => app.inject({ method: 'GET', url: '/readyz' })));
      assert.ok(answers.every((a) => a.statusCode === 200));
      assert.equal(checks, 1);
      await new Promise((r) => setTimeout(r, READY_MAX_AGE_MS + 50));
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
      assert.equal(checks, 2, 'a result older than a second is asked for again');
    } finally {
      await app.close();
      channel.close();
      server.forceShutdown();
    }
  });

  it('/readyz turns 503 when the registry stops, and the API answers 503 instead of hanging', async () => {
    await mesh.registry.stop();
    await new Promise((r) => setTimeout(r, READY_MAX_AGE_MS + 50));
    const ready = await http(mesh.url, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body.detail, /registry is (NOT_SERVING|UNREACHABLE)/);
    const list = await http(mesh.url, 'GET', '/v1/marketplace/gpu/list', { key: KEYS.client });
    assert.equal(list.status, 503);
    assert.equal(list.body.detail, 'a backing service is unavailable');
    assert.equal(list.headers.get('retry-after'), '1');
  });
});
