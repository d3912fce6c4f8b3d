import assert from 'node:assert/strict';
import { http, startTestMesh, type TestMesh } from '../support/testMesh';

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

  it('unknown routes are problem+json 404s (after authentication)', async () => {
    assert.equal((await http(mesh.url, 'GET', '/v1/nothing-here', { key: 'not-a-key' })).status, 401);
    const res = await http(mesh.url, 'GET', '/v1/nothing-here', { key: 'client-key-alice' });
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  });

  it('/readyz turns 503 when the registry stops, and the API answers 503 instead of hanging', async () => {
    await mesh.registry.stop();
    const ready = await http(mesh.url, 'GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.match(ready.body.detail, /registry is (NOT_SERVING|UNREACHABLE)/);
    const list = await http(mesh.url, 'GET', '/v1/marketplace/gpu/list', { key: 'client-key-alice' });
    assert.equal(list.status, 503);
    assert.equal(list.body.detail, 'a backing service is unavailable');
  });
});
