import assert from 'node:assert/strict';
import createClient from 'openapi-fetch';
import type { components, paths } from '../gen/api';
import { waitFor } from '../support/events';
import { KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

type Gpu = components['schemas']['Gpu'];

/**
 * A client generated from the served document (openapi-typescript types, openapi-fetch calls):
 * if a route, a field or a status drifts from the document, this file stops compiling (CI
 * type-checks it against the regenerated types) or these checks fail.
 */
describe('a typed client generated from /openapi.json', function () {
  this.timeout(60_000);
  let mesh: TestMesh;
  before(async () => {
    mesh = await startTestMesh({}, { pricing: false });
  });
  after(() => mesh?.stop());

  it('registers, lists, books and releases through the generated types', async () => {
    const as = (key: string) => createClient<paths>({ baseUrl: mesh.url, headers: { 'X-Api-Key': key } });
    const provider = as(KEYS.provider);
    const client = as(KEYS.client);
    const registered = await provider.POST('/v1/marketplace/gpu/register', {
      params: { header: { 'x-miner-id': 'typed-rig' } },
      body: { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.6, region: 'eu-west' } },
    });
    assert.equal(registered.response.status, 201);
    const gpu: Gpu = registered.data!.gpu;
    assert.equal(gpu.price_per_hour, 0.6);

    const listed = await client.GET('/v1/marketplace/gpu/list', { params: { query: { model: '4090', region: 'eu-west', limit: 5 } } });
    const ids: string[] = (listed.data ?? []).map((g: Gpu) => g.id);
    assert.ok(ids.includes(gpu.id));

    const quote = await client.POST('/v1/marketplace/gpu/{id}/book', { params: { path: { id: gpu.id }, query: { dry_run: true } }, body: { duration_hours: 1 } });
    assert.equal(quote.response.status, 200);
    const booked = await client.POST('/v1/marketplace/gpu/{id}/book', { params: { path: { id: gpu.id } }, body: { duration_hours: 1 } });
    assert.equal(booked.response.status, 201);
    const booking = booked.data as components['schemas']['Booking'];
    assert.equal(booking.total_cost, 0.6);
    const taken = await client.POST('/v1/marketplace/gpu/{id}/book', { params: { path: { id: gpu.id } }, body: { duration_hours: 1 } });
    const problem: components['schemas']['Problem'] | undefined = taken.error;
    assert.equal(problem?.status, 409);

    const released = await client.POST('/v1/marketplace/gpu/{id}/release', { params: { path: { id: gpu.id } } });
    const release: components['schemas']['Release'] = released.data!;
    assert.equal(Math.round((release.charged + release.refund) * 1e6), 600_000, 'charged and refunded add up to the total');
    // The hold is settled from the booking's end event, moments later.
    const held = async () => (await client.GET('/v1/accounts/{id}/balance', { params: { path: { id: 'me' } } })).data!.held;
    await waitFor(async () => (await held()) === 0, 10_000, 'the hold settled');
  });
});
