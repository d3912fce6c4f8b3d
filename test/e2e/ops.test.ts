import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import net from 'node:net';
import { HealthImplementation } from 'grpc-health-check';
import { createKeyStore, parseKeyList } from '../../lib/apiKeys';
import { healthChannel } from '../../lib/grpcClient';
import { localKeyDirectory } from '../../lib/keyDirectory';
import { createLogger } from '../../lib/logger';
import { buildGateway } from '../../gateway/src/app';
import { READY_MAX_AGE_MS } from '../../gateway/src/routes/opsRoutes';
import { readGatewayConfig, startGateway } from '../../gateway/src/main';
import { exampleProblems } from '../support/apiDocument';
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
    assert.deepEqual(ready.body, { status: 'ready', services: { accounts: 'SERVING', market: 'SERVING', registry: 'SERVING', booking: 'SERVING', pricing: 'SERVING', reviews: 'SERVING' } });
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

  it('serves a valid, complete OpenAPI 3.1 document: every route with its success answer, its problems, security and schemas', async () => {
    const doc = (await http(mesh.url, 'GET', '/openapi.json')).body;
    assert.equal(doc.openapi, '3.1.0');
    // A well-kept validator, on a copy (it dereferences in place).
    await SwaggerParser.validate(structuredClone(doc));
    // The document is the one committed as openapi.json (npm run openapi makes both).
    assert.deepEqual(doc, JSON.parse(readFileSync(resolve(__dirname, '../../openapi.json'), 'utf8')), 'openapi.json is stale: npm run openapi');
    const operations = Object.entries<Record<string, any>>(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    assert.ok(operations.length >= 49, `${operations.length} operations`);
    for (const { path, method, op } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      const codes = Object.keys(op.responses);
      const success = codes.filter((c) => c < '300');
      assert.ok(success.length >= 1, `${where}: no success answer`);
      for (const c of success) assert.ok(op.responses[c].content, `${where} ${c}: no schema`);
      const problems = codes.filter((c) => c >= '400');
      for (const c of ['400', '404', '429', '503', '504']) assert.ok(problems.includes(c), `${where}: ${c} undocumented`);
      for (const c of problems) assert.equal(op.responses[c].content['application/problem+json'].schema.$ref, '#/components/schemas/Problem', `${where} ${c}`);
      const open = Array.isArray(op.security) && op.security.length === 0;
      assert.equal(open, ['/healthz', '/readyz', '/metrics', '/openapi.json'].includes(path), `${where}: security`);
      if (!open) assert.ok(problems.includes('401') && problems.includes('403'), `${where}: 401/403 undocumented`);
      assert.ok(op.summary && op.tags?.length === 1, `${where}: summary and tag`);
    }
    // Real statuses: creations say 201, the bid 202, not a placeholder 200.
    assert.ok(doc.paths['/v1/marketplace/gpu/{id}/book'].post.responses['201']);
    assert.ok(doc.paths['/v1/marketplace/bids'].post.responses['202'] && !doc.paths['/v1/marketplace/bids'].post.responses['200']);
    assert.equal(doc.paths['/v1/marketplace/gpu/list'].get.responses['200'].headers['X-Next-Cursor'].schema.type, 'string');
    assert.equal(doc.paths['/v1/marketplace/gpu/list'].get.responses['429'].headers['Retry-After'].schema.type, 'integer');
    assert.ok(doc.paths['/v1/marketplace/gpu/{id}/book'].post.parameters.some((p: { name: string }) => p.name === 'idempotency-key'));
    for (const name of ['Gpu', 'Booking', 'Order', 'Review', 'Problem', 'Bid', 'Offer', 'Transaction']) assert.ok(doc.components.schemas[name], name);
    assert.ok(doc.components.schemas.Gpu.examples?.length, 'an example GPU');
    const exampled = Object.values<Record<string, any>>(doc.paths).flatMap((m) => Object.values(m)).filter((op) => op.requestBody?.content?.['application/json']?.example !== undefined || op.requestBody?.content?.['application/json']?.examples);
    assert.ok(exampled.length >= 10, `${exampled.length} request bodies with an example`);
    assert.deepEqual(exampleProblems(doc), [], 'every example matches its schema');
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
      reviewsAddr: mesh.reviews.address, accountsAddr: mesh.accounts.address, marketAddr: mesh.market.address, apiKeys: KEY_LIST,
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

  it('throttles unknown keys by client address: 429 with Retry-After for them (known keys unaffected), then lets it back', async () => {
    const gateway = await startGateway(readGatewayConfig({ PORT: '0', AUTH_FAILURE_BURST: '5', AUTH_FAILURES_PER_SECOND: '1' }, {
      registryAddr: mesh.registry.address, bookingAddr: mesh.booking.address, pricingAddr: mesh.pricing!.address,
      reviewsAddr: mesh.reviews.address, accountsAddr: mesh.accounts.address, marketAddr: mesh.market.address, apiKeys: KEY_LIST,
    }), createLogger('gateway', LOG_LEVEL));
    try {
      const list = (key: string) => http(gateway.url, 'GET', '/v1/marketplace/gpu/list', { key });
      assert.equal((await list(KEYS.client)).status, 200, 'a key in use from this address before the spray');
      const t0 = Date.now();
      const guesses = await Promise.all(Array.from({ length: 300 }, (_, i) => list(`guess-${i}-padded-to-a-real-length`)));
      const statuses = guesses.map((g) => g.status);
      // The burst of 5, and one more per second the spray took (the bucket refills at 1/s): on a loaded machine it can take over a second.
      const looked = statuses.filter((s) => s === 401).length;
      const refill = Math.ceil((Date.now() - t0) / 1000);
      assert.ok(looked >= 5 && looked <= 5 + refill, `the burst, then no more key is looked at: ${looked} looked at in ${refill} s`);
      assert.equal(statuses.filter((s) => s === 429).length, 300 - looked);
      const refused = guesses.find((g) => g.status === 429)!;
      assert.equal(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      assert.match(refused.body.detail, /too many unknown API keys from this address/);
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(wait >= 1, String(wait));
      assert.equal((await list(KEYS.client)).status, 200, 'a key known from this address is not locked out');
      assert.equal((await list('one-more-guess-padded-to-length')).status, 429);
      assert.equal((await http(gateway.url, 'GET', '/healthz')).status, 200, 'public routes are not throttled');
      await new Promise((r) => setTimeout(r, wait * 1000 + 100));
      assert.equal((await list('after-the-wait-padded-to-length')).status, 401, 'cooled down: an unknown key is a 401 again');
    } finally {
      await gateway.stop();
    }
  });

  it('takes the client address from X-Forwarded-For only as far as TRUST_PROXY says: a client cannot pick its own', async () => {
    const gateway = await startGateway(readGatewayConfig({ PORT: '0', AUTH_FAILURE_BURST: '3', AUTH_FAILURES_PER_SECOND: '1', TRUST_PROXY: '127.0.0.1' }, {
      registryAddr: mesh.registry.address, bookingAddr: mesh.booking.address, pricingAddr: mesh.pricing!.address,
      reviewsAddr: mesh.reviews.address, accountsAddr: mesh.accounts.address, marketAddr: mesh.market.address, apiKeys: KEY_LIST,
    }), createLogger('gateway', LOG_LEVEL));
    try {
      // The proxy in front (this test, on 127.0.0.1) appends the real address (198.51.100.1); what the client wrote before it does not count.
      const guess = (i: number) => http(gateway.url, 'GET', '/v1/marketplace/gpu/list', {
        key: `forged-${i}-padded-to-a-real-key-length`, headers: { 'X-Forwarded-For': `203.0.113.${i}, 198.51.100.1` },
      });
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await guess(i)).status);
      assert.deepEqual(statuses, [401, 401, 401, 429, 429, 429]);
      const elsewhere = await http(gateway.url, 'GET', '/v1/marketplace/gpu/list', {
        key: 'forged-x-padded-to-a-real-key-length', headers: { 'X-Forwarded-For': '198.51.100.2' },
      });
      assert.equal(elsewhere.status, 401, 'another real address is not throttled');
    } finally {
      await gateway.stop();
    }
    assert.throws(() => readGatewayConfig({ TRUST_PROXY: 'true' }, { apiKeys: KEY_LIST }), /TRUST_PROXY must list the proxies' addresses or CIDRs/);
    for (const bad of ['0.0.0.0/1,128.0.0.0/1', '0/0', '0.0.0.0/0', '::/0', '1', 'loopback', '10.0.0.1,true', '999.1.1.1']) {
      assert.throws(() => readGatewayConfig({ TRUST_PROXY: bad }, { apiKeys: KEY_LIST }), /TRUST_PROXY must list/, bad);
    }
  });

  it('answers what the HTTP parser refuses, and JSON nested absurdly deep, with problem+json 4xx', async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const nested = await http(mesh.url, 'POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, rawBody: deep, headers: { 'Content-Type': 'application/json' } });
    assert.equal(nested.status, 400);
    assert.match(nested.body.detail, /nested more than 32 levels deep/);
    const { port, hostname } = new URL(mesh.url);
    const raw = (text: string) => new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), hostname, () => socket.end(text));
      let out = '';
      socket.on('data', (d) => (out += d));
      socket.on('end', () => resolve(out));
      socket.on('error', reject);
    });
    for (const request of ['GARBAGE\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0000b\r\n\r\n',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]) {
      const answer = await raw(request);
      assert.match(answer, /^HTTP\/1\.1 4(00|31) /, answer.slice(0, 80));
      assert.match(answer, /Content-Type: application\/problem\+json/);
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
      registry: {} as never, booking: {} as never, pricing: {} as never, reviews: {} as never, accounts: {} as never, market: {} as never, keys: localKeyDirectory(createKeyStore(parseKeyList(KEY_LIST))),
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
