import assert from 'node:assert/strict';
import type { Delivery } from '../../lib/events/bus';
import type { PriceChanged } from '../../lib/gen/aitbc/marketplace/v1/events';
import { decodePayload } from '../../lib/events/envelope';
import { Role } from '../../lib/caller';
import type { DomainError } from '../../lib/errors';
import { PricingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/pricing';
import { pricingStore } from '../../services/pricing/src/store';
import { recordEvents, waitFor } from '../support/events';
import { http, KEYS, startTestMesh, type TestMesh, testClient } from '../support/testMesh';

describe('pricing through events and the gateway', function () {
  this.timeout(90_000);
  let mesh: TestMesh & { prefix: string };
  let changes: Delivery[];
  let recorder: { stop(): Promise<void> };
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const price = async (model = 'RTX 4090', key = KEYS.client) => call('GET', `/v1/marketplace/pricing/${encodeURIComponent(model)}`, { key });
  const register = async (name: string, pricePerHour: number, minerId: string) => {
    const res = await call('POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': minerId }, body: { gpu: { name, memory_gb: 24, price_per_hour: pricePerHour } },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.gpu_id as string;
  };
  const book = (gpuId: string, body: Record<string, unknown> = {}) =>
    call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client, body: { gpu_id: gpuId, duration_hours: 1, ...body } });
  let gpus: string[] = [];

  before(async () => {
    // τ = 1 s so demand shows within seconds; any move over 1% is a history point.
    mesh = await startTestMesh({ PRICING_SMOOTHING_SECONDS: '1', PRICE_HISTORY_THRESHOLD_BP: '100' });
    const recording = await recordEvents(mesh.prefix, ['price.changed'], 'price-recorder');
    ({ seen: changes } = recording);
    recorder = recording;
  });
  after(async () => {
    await recorder?.stop();
    await mesh?.stop();
  });

  it('registering GPUs sets supply; every spelling of a model is one market', async () => {
    // Four spellings of one model, as people and nvidia-smi write it.
    gpus = [
      await register('NVIDIA GeForce RTX 4090', 1, 'rig-a'),
      await register('RTX 4090', 2, 'rig-b'),
      await register('rtx4090', 3, 'rig-c'),
      await register('4090', 4, 'rig-d'),
    ];
    await register('NVIDIA A100-SXM4-80GB', 3, 'rig-e');
    await waitFor(async () => (await price()).body.static_pricing?.total_gpus === 4, 5000, 'supply of 4');
    const res = await price('NVIDIA GeForce RTX 4090');
    assert.equal(res.status, 200);
    const p = res.body;
    assert.equal(p.model_key, 'rtx-4090');
    assert.equal(p.model, 'GeForce RTX 4090');
    assert.equal(p.base_price, 2.5); // median of 1, 2, 3, 4
    assert.equal(p.base_price_source, 'median_listed');
    assert.deepEqual(
      { min: p.static_pricing.min_price, max: p.static_pricing.max_price, avg: p.static_pricing.average_price, available: p.static_pricing.available_gpus },
      { min: 1, max: 4, avg: 2.5, available: 4 },
    );
    assert.equal(p.static_pricing.recommended_gpu.gpu_id, gpus[0]);
    assert.equal(typeof p.recommendation.summary, 'string');
    assert.ok(p.demand_multiplier >= 0.8 && p.demand_multiplier <= 2);
    assert.equal(p.current_price, Number(((2.5 * p.demand_multiplier * 1e6) / 1e6).toFixed(6)));
    assert.match(p.updated_at, /Z$/);
    // The registry's filter uses the same catalogue: one spelling finds all four.
    const listed = await call('GET', `/v1/marketplace/gpu/list?model=${encodeURIComponent('NVIDIA GeForce RTX 4090')}&limit=50`, { key: KEYS.client });
    assert.deepEqual(listed.body.map((g: { id: string }) => g.id).sort(), [...gpus].sort());
    assert.equal(listed.body[0].model_key, 'rtx-4090');
  });

  it('booking most GPUs of a model raises its price within seconds; the booking quote uses it; releasing lowers it', async () => {
    await waitFor(async () => (await price()).body.demand_multiplier <= 0.85, 10_000, 'idle price to settle low');
    const idle = (await price()).body;
    for (const id of gpus.slice(1)) assert.equal((await book(id)).status, 201);
    await waitFor(async () => (await price()).body.demand_multiplier >= 1.4, 10_000, 'price to rise');
    const busy = (await price()).body;
    assert.ok(busy.current_price > idle.current_price, `${busy.current_price} > ${idle.current_price}`);
    assert.equal(busy.demand.booked_gpus, 3);
    assert.equal(busy.static_pricing.available_gpus, 1);
    assert.ok(busy.recommendation.for_clients.fair_price_band, 'recent bookings give a fair band');

    // A quote for the last free GPU (listed 1 AITBC/h) is its listed price × the current multiplier.
    const dry = await book(gpus[0], { dry_run: true });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal(dry.body.pricing.source, 'pricing');
    assert.equal(dry.body.pricing.listed_price, 1);
    assert.ok(dry.body.pricing.multiplier >= 1.4, JSON.stringify(dry.body.pricing));
    assert.equal(dry.body.price_per_hour, Math.round(dry.body.pricing.multiplier * 1e6) / 1e6);

    for (const id of gpus.slice(1)) assert.equal((await call('POST', `/v1/marketplace/gpu/${id}/release`, { key: KEYS.client })).status, 200);
    await waitFor(async () => (await price()).body.demand_multiplier <= 0.9, 10_000, 'price to fall');
    const after = (await price()).body;
    assert.ok(after.current_price < busy.current_price);

    // History recorded the moves, and each move over the threshold was announced.
    const history = await call('GET', '/v1/marketplace/pricing/rtx4090/history', { key: KEYS.client });
    assert.equal(history.status, 200);
    const points = history.body.points as { at: string; price: number }[];
    assert.ok(points.length >= 3, `${points.length} points`);
    const prices = points.map((x) => x.price);
    assert.ok(Math.max(...prices) >= busy.current_price && Math.min(...prices) <= after.current_price, prices.join(','));
    assert.deepEqual(points.map((x) => x.at), [...points.map((x) => x.at)].sort());
    await waitFor(() => changes.some((d) => (decodePayload(d.envelope) as PriceChanged).priceMicro >= busy.current_price * 1e6), 5000, 'price.changed');
    const rise = changes.map((d) => decodePayload(d.envelope) as PriceChanged).find((c) => c.priceMicro > c.previousPriceMicro);
    assert.equal(rise?.modelKey, 'rtx-4090');
    // A page of history, then the next.
    const page = await call('GET', '/v1/marketplace/pricing/rtx4090/history?limit=1', { key: KEYS.client });
    assert.equal(page.body.points.length, 1);
    const next = await call('GET', `/v1/marketplace/pricing/rtx4090/history?limit=1&cursor=${page.body.next_cursor}`, { key: KEYS.client });
    assert.ok(next.body.points[0].at > page.body.points[0].at);
  });

  it('admin sets and clears a base price; others may not', async () => {
    assert.equal((await call('PUT', '/v1/marketplace/pricing/4090/base-price', { key: KEYS.provider, body: { base_price: 9 } })).status, 403);
    const set = await call('PUT', '/v1/marketplace/pricing/4090/base-price', { key: KEYS.admin, body: { base_price: 9 } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.base_price, 9);
    assert.equal(set.body.base_price_source, 'admin');
    assert.equal((await price()).body.base_price, 9);
    // A model with no GPUs is unknown until an admin prices it.
    assert.equal((await price('H200')).status, 404);
    assert.equal((await call('PUT', '/v1/marketplace/pricing/H200/base-price', { key: KEYS.admin, body: { base_price: 12.5 } })).status, 200);
    const h200 = await price('NVIDIA H200');
    assert.equal(h200.status, 200);
    assert.deepEqual([h200.body.base_price, h200.body.static_pricing.total_gpus], [12.5, 0]);
    assert.equal((await call('PUT', '/v1/marketplace/pricing/H200/base-price', { key: KEYS.admin, body: { base_price: null } })).status, 200);
    assert.equal((await price('H200')).status, 404);
    const cleared = await call('PUT', '/v1/marketplace/pricing/4090/base-price', { key: KEYS.admin, body: { base_price: null } });
    assert.equal(cleared.body.base_price_source, 'median_listed');
    for (const [body, field] of [[{ base_price: -1 }, 'base_price'], [{ base_price: 'x' }, 'base_price'], [{}, 'base_price'], [{ base_price: 1, extra: 1 }, 'extra']] as const) {
      const bad = await call('PUT', '/v1/marketplace/pricing/4090/base-price', { key: KEYS.admin, body });
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.match(bad.body.detail, new RegExp(field));
    }
    assert.equal((await price()).body.base_price_source, 'median_listed', 'refused input changed nothing');
  });

  it('refuses bad model names and ranges with a clear 4xx', async () => {
    const cases: [string, number, RegExp][] = [
      ['/v1/marketplace/pricing/', 400, /model.*required/],
      ['/v1/marketplace/pricing/%20%20', 400, /model.*required/],
      [`/v1/marketplace/pricing/${'x'.repeat(200)}`, 400, /model.*at most 100/],
      ['/v1/marketplace/pricing/..%2F', 400, /model.*must name a GPU model/],
      ['/v1/marketplace/pricing/NoSuchGPU%209000', 404, /no GPUs of model "NoSuchGPU 9000"/],
      ['/v1/marketplace/pricing/4090/history?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', 400, /from.*before to/],
      ['/v1/marketplace/pricing/4090/history?from=yesterday', 400, /from/],
      ['/v1/marketplace/pricing/4090/history?cursor=nonsense!', 400, /cursor/],
    ];
    for (const [path, status, detail] of cases) {
      const res = await call('GET', path, { key: KEYS.client });
      assert.equal(res.status, status, `${path}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.detail, detail, path);
    }
    assert.equal((await call('GET', '/v1/marketplace/pricing/4090')).status, 401);
  });

  it('Quote over gRPC: exact listed × multiplier for services; bad input and other roles refused', async () => {
    const handle = testClient(PricingServiceClient, mesh.pricing!.address, 3000);
    try {
      const service = { accountId: 'coordinator', role: Role.ROLE_SERVICE };
      const q = await handle.client.quote({ caller: service, gpuId: gpus[0], model: 'RTX 4090', listedPricePerHourMicro: 1_234_567, durationSeconds: 3600 });
      assert.equal(q.modelKey, 'rtx-4090');
      assert.equal(q.pricePerHourMicro, Math.floor((1_234_567 * q.multiplierBp + 5000) / 10_000));
      // An unknown model is priced neutrally (its registration events may still be on the way).
      const fresh = await handle.client.quote({ caller: service, gpuId: 'gpu_x', model: 'FooGPU 1', listedPricePerHourMicro: 1_000_000, durationSeconds: 60 });
      assert.deepEqual([fresh.multiplierBp, fresh.pricePerHourMicro], [10_000, 1_000_000]);
      await assert.rejects(handle.client.quote({ caller: { accountId: 'alice', role: Role.ROLE_CLIENT }, gpuId: gpus[0], model: '4090', listedPricePerHourMicro: 1, durationSeconds: 1 }),
        (err: DomainError) => err.code === 'PERMISSION_DENIED');
      for (const bad of [{ listedPricePerHourMicro: 0 }, { durationSeconds: 0 }, { model: '' }]) {
        await assert.rejects(handle.client.quote({ caller: service, gpuId: gpus[0], model: '4090', listedPricePerHourMicro: 1, durationSeconds: 1, ...bad }),
          (err: DomainError) => err.code === 'INVALID_ARGUMENT', JSON.stringify(bad));
      }
    } finally {
      handle.close();
    }
  });

  it('forgets history past its retention and finished bookings past every window, nothing newer', async () => {
    const db = mesh.pricing!.db;
    const day = 86_400_000;
    const point = (at: Date) => ({
      model_key: 'prune-test', at, price_micro: 1, base_price_micro: 1, multiplier_bp: 10_000, utilization_bp: 0, online_gpus: 0, booked_gpus: 0,
    });
    await db('price_points').insert([point(new Date(Date.now() - 91 * day)), point(new Date(Date.now() - 92 * day)), point(new Date(Date.now() - 89 * day))]);
    const booking = (id: string, createdDaysAgo: number, ended: boolean) => ({
      booking_id: id, gpu_id: 'gpu_prune', model_key: 'prune-test', price_per_hour_micro: 1, start_time: new Date(), end_time: new Date(),
      created_at: new Date(Date.now() - createdDaysAgo * day), ended_at: ended ? new Date() : null,
    });
    await db('bookings').insert([booking('bkg_prune_old', 30, true), booking('bkg_prune_live', 30, false), booking('bkg_prune_new', 1, true)]);
    assert.equal(await pricingStore.pruneHistory(db, new Date(Date.now() - 90 * day)), 2);
    assert.equal((await db('price_points').where({ model_key: 'prune-test' })).length, 1);
    assert.equal(await pricingStore.pruneBookings(db, new Date(Date.now() - 14 * day)), 1);
    assert.deepEqual((await db('bookings').where({ model_key: 'prune-test' }).orderBy('booking_id')).map((r: { booking_id: string }) => r.booking_id),
      ['bkg_prune_live', 'bkg_prune_new']);
  });

  it('with the pricing service stopped, bookings still work at the listed price and say so', async () => {
    await mesh.pricing!.stop();
    const res = await book(gpus[1]);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.pricing, { listed_price: 2, multiplier: 1, source: 'listed_price' });
    assert.equal(res.body.price_per_hour, 2);
    // The gateway says pricing is down rather than failing obscurely.
    const down = await price();
    assert.equal(down.status, 503);
  });
});
