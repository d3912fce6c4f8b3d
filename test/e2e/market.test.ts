import assert from 'node:assert/strict';
import { NATS_URL, waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { createLogger } from '../../lib/logger';
import { readMarketConfig, startMarket } from '../../services/market/src/main';
import { http, KEY_LIST, KEYS, startTestMesh } from '../support/testMesh';

const CROWD = Array.from({ length: 20 }, (_, i) => ({ account: `bidder${i}`, key: `market-bidder-key-${String(i).padStart(4, '0')}-xxxx` }));

/** Offers, bids, renting and stats through the gateway, with the CLI's exact requests. */
describe('the market through the gateway', function () {
  this.timeout(120_000);
  let mesh: Awaited<ReturnType<typeof startTestMesh>>;
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const register = async (miner: string, price: number, name = 'RTX 4090', uuid?: string) => {
    const res = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, headers: { 'X-Miner-ID': miner },
      body: { gpu: { name, memory_gb: 24, price_per_hour: price, ...(uuid ? { uuid } : {}) } } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.gpu_id as string;
  };
  const bid = (key: string, body: Record<string, unknown>) => call('POST', '/v1/marketplace/bids', { key, body });
  const bidOf = async (id: string, key = KEYS.admin) => (await call('GET', `/v1/marketplace/bids/${id}`, { key })).body;
  before(async () => {
    // Small matching batches, so every pass goes through several of them.
    mesh = await startTestMesh({ BID_MATCH_BATCH: '4' }, { pricing: false, extraKeys: CROWD.map((c) => `client:${c.account}:${c.key}`) });
  });
  after(() => mesh?.stop());

  it("publishes and lists offers with the CLI's requests, and booking honours the offer's price and hours", async () => {
    const gpuId = await register('offer-rig', 2);
    // `marketplace offers create --gpu-id G --price-per-hour 1.5 --min-hours 2 --max-hours 4 --models llama,sdxl`
    const created = await call('POST', '/v1/marketplace/offers', { key: KEYS.provider, body: {
      gpu_id: gpuId, price_per_hour: 1.5, min_hours: 2, max_hours: 4, supported_models: ['llama', 'sdxl'], status: 'open',
    } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.id, /^ofr_/);
    assert.deepEqual([created.body.price_per_hour, created.body.min_hours, created.body.max_hours, created.body.status], [1.5, 2, 4, 'open']);
    // `marketplace offers list --gpu-model 4090 --price-max 1.6 --memory-min 16`
    const listed = await call('GET', '/v1/marketplace/offers?limit=20&gpu_model=4090&price_max=1.6&memory_min=16', { key: KEYS.client });
    assert.equal(listed.status, 200);
    assert.ok(listed.body.some((o: { id: string }) => o.id === created.body.id));
    assert.deepEqual((await call('GET', '/v1/marketplace/offers?limit=20&price_max=1.4', { key: KEYS.client })).body.filter((o: { id: string }) => o.id === created.body.id), []);
    assert.ok((await call('GET', '/v1/marketplace/miner-offers', { key: KEYS.client })).body.some((o: { miner: { miner_id: string } }) => o.miner.miner_id === 'offer-rig'));
    // Booking learns the offer from its event: its price, and its hours.
    const book = (hours: number) => call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client, body: { duration_hours: hours } });
    await waitFor(async () => (await book(1)).status === 400, 3000, 'booking to learn the offer');
    const short = await book(1);
    assert.equal(short.body.field, 'duration_hours');
    assert.match(short.body.detail, /from 2 to 4 hours/);
    const ok = await book(2);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.price_per_hour, 1.5);
    const reserved = async () => (await call('GET', '/v1/marketplace/offers?status=reserved', { key: KEYS.client })).body.filter((o: { id: string }) => o.id === created.body.id);
    await waitFor(async () => (await reserved()).length === 1, 3000, 'the offer shown reserved while booked');
    // Bad offers, nothing stored.
    const other = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider2, body: { gpu: { name: 'A100', memory_gb: 80, price_per_hour: 3 } } });
    for (const [body, status, key] of [
      [{ gpu_id: other.body.gpu_id, price_per_hour: 1 }, 404, KEYS.provider],
      [{ gpu_id: gpuId, price_per_hour: 1, min_hours: 5, max_hours: 2 }, 400, KEYS.provider],
      [{ gpu_id: gpuId, price_per_hour: 0 }, 400, KEYS.provider],
      [{ gpu_id: gpuId, price_per_hour: 1 }, 403, KEYS.client],
    ] as const) {
      assert.equal((await call('POST', '/v1/marketplace/offers', { key, body })).status, status, JSON.stringify(body));
    }
    assert.equal((await call('GET', '/v1/marketplace/offers?status=bogus', { key: KEYS.client })).status, 400);
    // Admin opens offers for GPUs with none.
    const synced = await call('POST', '/v1/marketplace/sync-offers', { key: KEYS.admin });
    assert.equal(synced.status, 200);
    assert.ok(synced.body.opened >= 1);
    assert.equal((await call('POST', '/v1/marketplace/sync-offers', { key: KEYS.admin })).body.opened, 0);
  });

  it("takes the CLI's bid (202), fills it when a GPU frees up, and the stats follow", async () => {
    const gpuId = await register('bid-rig', 1);
    const blocker = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client2, body: { duration_hours: 1 } });
    assert.equal(blocker.status, 201);
    // `marketplace bid submit --provider acme --capacity 1 --price 1.2 --notes "nightly run"`
    const submitted = await bid(KEYS.client, { provider: 'acme', capacity: 1, price: 1.2, notes: 'nightly run' });
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    assert.match(submitted.body.id, /^bid_/);
    assert.equal(submitted.body.status, 'pending');
    const before = (await call('GET', '/v1/marketplace/stats', { key: KEYS.client })).body;
    assert.ok(before.activeBids >= 1);
    // `marketplace bid list --status pending --limit 20`, `bid details ID`
    const list = await call('GET', '/v1/marketplace/bids?limit=20&status=pending', { key: KEYS.client });
    assert.equal(list.status, 200);
    assert.ok(list.body.some((b: { id: string }) => b.id === submitted.body.id));
    assert.equal((await call('GET', `/v1/marketplace/bids/${submitted.body.id}`, { key: KEYS.client })).status, 200);
    assert.equal((await call('GET', `/v1/marketplace/bids/${submitted.body.id}`, { key: KEYS.client2 })).status, 404, "another client's bid");
    // The GPU frees up: the bid fills.
    assert.equal((await call('POST', `/v1/marketplace/gpu/${gpuId}/release`, { key: KEYS.client2 })).status, 200);
    await waitFor(async () => (await bidOf(submitted.body.id)).status === 'accepted', 5000, 'the bid to fill');
    const filled = await bidOf(submitted.body.id);
    assert.equal(filled.booking_ids.length, 1);
    const booking = (await call('GET', `/v1/marketplace/bookings/${filled.booking_ids[0]}`, { key: KEYS.client })).body;
    assert.deepEqual([booking.gpu_id, booking.client_id], [gpuId, 'alice']);
    const after = (await call('GET', '/v1/marketplace/stats', { key: KEYS.client })).body;
    assert.equal(after.activeBids, before.activeBids - 1);
    assert.ok(after.bookings_last_24h >= before.bookings_last_24h);
    assert.ok(Array.isArray(after.models) && after.models.some((m: { model: string }) => /4090/.test(m.model)));
    for (const key of ['totalOffers', 'openCapacity', 'averagePrice', 'activeBids']) assert.equal(typeof after[key], 'number', key);
  });

  it('fills 20 racing bids against 10 free GPUs all or none, no GPU twice, then the waiting ones in price order as GPUs free up', async () => {
    const gpus = await Promise.all(Array.from({ length: 10 }, (_, i) => register(`race-rig-${i % 3}`, 1, 'L4 24GB')));
    await waitFor(async () => Number((await mesh.market.db('gpus').where('model', 'L4 24GB').count({ n: '*' }))[0].n) === 10, 5000, 'the market to see them');
    // Block them first, so all 20 bids wait and then race for the same 10.
    const blocks = await Promise.all(gpus.map((g) => call('POST', `/v1/marketplace/gpu/${g}/book`, { key: KEYS.client2, body: { duration_hours: 1 } })));
    assert.deepEqual(blocks.map((b) => b.status), gpus.map(() => 201), JSON.stringify(blocks.map((b) => b.body)));
    const submitted = await Promise.all(CROWD.map((c, i) => bid(c.key, { provider: '*', capacity: 1 + (i % 3), price: Number((1 + i / 100).toFixed(2)), gpu_model: 'L4', duration_hours: 0.5 })));
    assert.ok(submitted.every((s) => s.status === 202), JSON.stringify(submitted.map((s) => s.body).filter((b) => !b.id)));
    await Promise.all(gpus.map((g) => call('POST', `/v1/marketplace/gpu/${g}/release`, { key: KEYS.client2 })));
    await new Promise((r) => setTimeout(r, 3000));
    const states = await Promise.all(submitted.map((s) => bidOf(s.body.id)));
    const accepted = states.filter((b) => b.status === 'accepted');
    assert.ok(accepted.length > 0, 'some filled');
    for (const b of accepted) assert.equal(b.booking_ids.length, b.capacity, 'no bid partly filled');
    const bookings = await mesh.booking.db('bookings').whereIn('booking_id', accepted.flatMap((b) => b.booking_ids));
    assert.equal(new Set(bookings.map((b: { gpu_id: string }) => b.gpu_id)).size, bookings.length, 'no GPU in two accepted bids');
    assert.ok(accepted.reduce((n, b) => n + b.capacity, 0) <= 10);
    const waiting = states.filter((b) => b.status === 'pending');
    assert.ok(waiting.every((b) => b.booking_ids.length === 0));
    // Every waiting bid needs more GPUs than were left, or offers less than the GPUs cost: nothing fillable was left waiting.
    const left = 10 - accepted.reduce((n, b) => n + b.capacity, 0);
    assert.ok(waiting.every((w) => w.capacity > left), `a bid that fits ${left} free GPUs was left waiting`);
    // Freeing one accepted bid's GPUs: the highest waiting bid they (with any left over) can fill takes them.
    const first = accepted.sort((x, y) => x.capacity - y.capacity || y.price - x.price)[0];
    const owner = CROWD.find((c) => c.account === first.client_id)!;
    const best = waiting.filter((w) => w.capacity <= first.capacity + left).sort((x, y) => y.price - x.price)[0];
    for (const id of first.booking_ids) assert.equal((await call('POST', `/v1/marketplace/bookings/${id}/release`, { key: owner.key })).status, 200);
    if (best) {
      await waitFor(async () => (await bidOf(best.id)).status === 'accepted', 20_000, `the best waiting bid (${best.price} for ${best.capacity}) to fill`).catch(async (err) => {
        // What the market saw, to tell a slow event from a wrong plan.
        const seen = await mesh.market.db('gpus').whereIn('gpu_id', gpus).select('gpu_id', 'online', 'withdrawn', 'unregistered');
        const live = await mesh.market.db('bookings').whereIn('gpu_id', gpus).where('live', true).select('gpu_id', 'booking_id', 'start_time', 'end_time');
        const bids = await mesh.market.db('bids').whereIn('bid_id', submitted.map((x) => x.body.id)).select('bid_id', 'capacity', 'price_micro', 'status', 'booking_ids');
        throw new Error(`${(err as Error).message}; first ${JSON.stringify(first)}, left ${left}; market gpus ${JSON.stringify(seen)}; live ${JSON.stringify(live)}; bids ${JSON.stringify(bids)}`);
      });
      const others = (await Promise.all(waiting.filter((w) => w.id !== best.id).map((w) => bidOf(w.id)))).filter((w) => w.status === 'accepted');
      assert.ok(others.every((o) => o.price < best.price || o.capacity > best.capacity), 'no lower bid went before it');
    }
    const live = await mesh.booking.db('bookings').whereIn('gpu_id', gpus).where('status', 'active');
    assert.equal(new Set(live.map((b: { gpu_id: string }) => b.gpu_id)).size, live.length, 'no GPU booked twice at once');
    for (const b of await Promise.all(submitted.map((s) => bidOf(s.body.id)))) {
      assert.ok(b.status === 'accepted' ? b.booking_ids.length === b.capacity : b.booking_ids.length === 0, 'all or none');
    }
    await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to settle');
  });

  it('fills a bid that waits behind more unfillable bids than one matching batch holds', async () => {
    // Six dearer bids for a model nobody has (more than a batch of 4), then one that fits.
    const stuck = await Promise.all(CROWD.slice(0, 6).map((c) => bid(c.key, { provider: '*', capacity: 1, price: 9, gpu_model: 'No Such GPU', duration_hours: 0.25 })));
    assert.ok(stuck.every((s) => s.status === 202));
    const gpuId = await register('batch-rig', 1, 'T4 batch');
    await waitFor(async () => Number((await mesh.market.db('gpus').where('gpu_id', gpuId).count({ n: '*' }))[0].n) === 1, 5000, 'the market to see it');
    const fits = await bid(CROWD[7].key, { provider: '*', capacity: 1, price: 1.5, gpu_model: 'T4 batch', duration_hours: 0.25 });
    await waitFor(async () => (await bidOf(fits.body.id)).status === 'accepted', 8000, 'the bid behind the batch to fill');
    for (const s of stuck) assert.equal((await call('DELETE', `/v1/marketplace/bids/${s.body.id}`, { key: CROWD[stuck.indexOf(s)].key })).status, 200);
  });

  it('rejects a bid that expires unfilled (nothing held) and one its client cancels, which never fills later', async () => {
    const balance = async () => (await call('GET', '/v1/accounts/me/balance', { key: KEYS.client })).body;
    const held = (await balance()).held;
    // A duration under a second is refused, not taken for "not given" (which would book an hour).
    for (const hours of [0.0001, 0.0001388]) {
      const tiny = await bid(KEYS.client, { provider: '*', capacity: 1, price: 2, gpu_model: 'no-such-gpu', duration_hours: hours });
      assert.equal(tiny.status, 400, JSON.stringify(tiny.body));
      assert.match(tiny.body.detail, /duration_hours: must round to at least one second/);
    }
    const soon = await bid(KEYS.client, { provider: '*', capacity: 1, price: 0.01, gpu_model: 'no-such-gpu', expires_at: new Date(Date.now() + 1500).toISOString() });
    assert.equal(soon.status, 202);
    await waitFor(async () => (await bidOf(soon.body.id)).status === 'rejected', 5000, 'the bid to expire');
    assert.match((await bidOf(soon.body.id)).reason, /expired/);
    const gpuId = await register('cancel-rig', 0.5, 'T4');
    await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client2, body: { duration_hours: 1 } });
    const cancelled = await bid(KEYS.client, { provider: 'cancel-rig', capacity: 1, price: 1, gpu_model: 'T4' });
    assert.equal((await call('DELETE', `/v1/marketplace/bids/${cancelled.body.id}`, { key: KEYS.client2 })).status, 404, "another client's bid");
    const del = await call('DELETE', `/v1/marketplace/bids/${cancelled.body.id}`, { key: KEYS.client });
    assert.equal(del.status, 200);
    assert.equal(del.body.status, 'rejected');
    const again = await call('DELETE', `/v1/marketplace/bids/${cancelled.body.id}`, { key: KEYS.client });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    await call('POST', `/v1/marketplace/gpu/${gpuId}/release`, { key: KEYS.client2 });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await bidOf(cancelled.body.id)).status, 'rejected');
    assert.deepEqual((await bidOf(cancelled.body.id)).booking_ids, []);
    assert.equal((await balance()).held, held, 'nothing held for the rejected bids');
  });

  it("rents by requirements with the CLI's request, and answers 409 with alternatives when none fits", async () => {
    const cheap = await register('rent-rig', 0.8, 'RTX 3090');
    await register('rent-rig', 1.6, 'RTX 3090');
    await waitFor(async () => Number((await mesh.market.db('gpus').where('model', 'RTX 3090').count({ n: '*' }))[0].n) === 2, 5000, 'the market to see them');
    // `agents rent --resource-id … --consumer-id … --duration 1 --max-price 1.0`
    const rented = await call('POST', '/v1/marketplace/rent', { key: KEYS.client, body: {
      resource_id: null, consumer_id: 'agent-7', duration_hours: 1, max_price_per_hour: 1.0, requirements: { model: '3090', memory: 16 },
    } });
    assert.equal(rented.status, 201, JSON.stringify(rented.body));
    assert.equal(rented.body.gpu_id, cheap, 'the cheapest that fits');
    const none = await call('POST', '/v1/marketplace/rent', { key: KEYS.client2, body: { duration_hours: 1, max_price_per_hour: 0.5, requirements: { model: '3090' } } });
    assert.equal(none.status, 409);
    assert.ok(none.body.alternatives.length >= 1);
    assert.ok(none.body.alternatives.some((a: { price_per_hour?: number; free_at?: string }) => a.price_per_hour === 1.6 || a.free_at));
    // Bad bids: nothing stored.
    const count = async () => Number((await mesh.market.db('bids').count({ n: '*' }))[0].n);
    const n = await count();
    for (const body of [{ provider: '*', capacity: 0, price: 1 }, { provider: '*', capacity: 1.5, price: 1 }, { provider: '*', capacity: 1, price: 0 },
      { provider: '*', capacity: 1, price: -1 }, { provider: 'a b', capacity: 1, price: 1 }, { capacity: 1, price: 1 }]) {
      assert.equal((await bid(KEYS.client, body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await bid(KEYS.provider, { provider: '*', capacity: 1, price: 1 })).status, 403);
    assert.equal((await call('GET', '/v1/marketplace/bids?status=maybe', { key: KEYS.client })).status, 400);
    assert.equal(await count(), n);
  });

  it("leaves a GPU whose offer is closed to booking by id, and keeps to offers' hours in bids and rent", async () => {
    const closed = await register('terms-rig', 0.5, 'L40S');
    const termed = await register('terms-rig', 0.7, 'L40S');
    const plain = await register('terms-rig', 0.9, 'L40S');
    const offer = (gpuId: string, body: Record<string, unknown>) => call('POST', '/v1/marketplace/offers', { key: KEYS.provider, body: { gpu_id: gpuId, ...body } });
    assert.equal((await offer(closed, { price_per_hour: 0.5, status: 'closed' })).status, 201);
    assert.equal((await offer(termed, { price_per_hour: 0.7, min_hours: 2, max_hours: 4 })).status, 201);
    const seen = async (gpuId: string) => mesh.market.db('gpus').where({ gpu_id: gpuId }).first();
    await waitFor(async () => (await seen(closed))?.withdrawn === true && (await seen(termed))?.offer_min_hours === 2 && !!(await seen(plain)), 5000, 'the market to see the terms');
    const rent = (hours: number, requirements: Record<string, unknown> = { model: 'L40S' }) =>
      call('POST', '/v1/marketplace/rent', { key: KEYS.client, body: { duration_hours: hours, requirements } });
    // One hour: the closed offer is left alone and the termed one takes 2 to 4 hours.
    const oneHour = await rent(1);
    assert.equal(oneHour.status, 201, JSON.stringify(oneHour.body));
    assert.equal(oneHour.body.gpu_id, plain);
    const threeHours = await rent(3);
    assert.equal(threeHours.status, 201, JSON.stringify(threeHours.body));
    assert.equal(threeHours.body.gpu_id, termed);
    // Nothing left (no price was given): the alternatives say what is in the way, not the price.
    const none = await rent(1);
    assert.equal(none.status, 409, JSON.stringify(none.body));
    const alternatives = none.body.alternatives as { gpu_id: string; why: string; free_at?: string }[];
    assert.deepEqual(alternatives.map((a) => a.gpu_id).sort(), [plain, termed].sort(), 'the closed offer is no alternative');
    for (const a of alternatives) {
      assert.ok(a.free_at && /^booked until /.test(a.why), JSON.stringify(a));
      assert.doesNotMatch(a.why, /price/);
    }
    assert.match(alternatives.find((a) => a.gpu_id === termed)!.why, /its offer takes 2 to 4 hours/);
    // A bid leaves the closed offer's GPU free; booking it by id still works, at its listed price.
    const waiting = await bid(KEYS.client, { provider: 'terms-rig', capacity: 1, price: 2, gpu_model: 'L40S', duration_hours: 1 });
    assert.equal(waiting.status, 202);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await bidOf(waiting.body.id)).status, 'pending');
    const direct = await call('POST', `/v1/marketplace/gpu/${closed}/book`, { key: KEYS.client2, body: { duration_hours: 1 } });
    assert.equal(direct.status, 201, JSON.stringify(direct.body));
    assert.equal(direct.body.price_per_hour, 0.5);
    assert.equal((await call('DELETE', `/v1/marketplace/bids/${waiting.body.id}`, { key: KEYS.client })).status, 200);
    // Fields nobody reads are refused, not ignored.
    for (const requirements of [{ model: 'L40S', gpu_model: 'L4' }, { memory_gb: 24, memory: 48 }]) {
      const conflicting = await rent(1, requirements);
      assert.equal(conflicting.status, 400, JSON.stringify(requirements));
      assert.match(conflicting.body.detail, /differs from/);
    }
    const unknown = await rent(1, { model: 'L40S', gpu_memory: 24 });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.detail, /gpu_memory/);
    assert.equal((await call('POST', '/v1/marketplace/sync-offers', { key: KEYS.admin, body: { x: 1 } })).status, 400);
    assert.equal((await call('POST', '/v1/marketplace/sync-offers', { key: KEYS.client })).body.detail, 'this needs an admin key; this key is a client key');
    for (const b of [oneHour, threeHours, direct]) {
      const key = b === direct ? KEYS.client2 : KEYS.client;
      assert.equal((await call('POST', `/v1/marketplace/gpu/${b.body.gpu_id}/release`, { key })).status, 200);
    }
    await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to settle');
  });

  it('fills every bid once with two market replicas matching at the same time', async () => {
    const fills: string[] = [];
    const sink = (name: string) => ({ write: (line: string) => { if (/bids filled/.test(line)) fills.push(name); } });
    const second = await startMarket(
      readMarketConfig({ MARKET_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: mesh.prefix, BID_FILL_LEAD_MS: '1000', BID_MATCH_INTERVAL_MS: '50' },
        { databaseUrl: mesh.database.url, apiKeys: [KEY_LIST, ...CROWD.map((c) => `client:${c.account}:${c.key}`)].join(','), bookingAddr: mesh.booking.address }),
      createLogger('market-2', 'info', sink('market-2')),
    );
    try {
      const gpus = await Promise.all(Array.from({ length: 12 }, (_, i) => register(`replica-rig-${i % 4}`, 1, 'H100 replica')));
      await waitFor(async () => Number((await mesh.market.db('gpus').where('model', 'H100 replica').count({ n: '*' }))[0].n) === 12, 5000, 'the market to see them');
      await Promise.all(gpus.map((g) => call('POST', `/v1/marketplace/gpu/${g}/book`, { key: KEYS.client2, body: { duration_hours: 1 } })));
      const submitted = await Promise.all(CROWD.slice(0, 12).map((c, i) => bid(c.key, { provider: '*', capacity: 1, price: 2 + i / 10, gpu_model: 'H100 replica', duration_hours: 0.25 })));
      assert.ok(submitted.every((s) => s.status === 202));
      await Promise.all(gpus.map((g) => call('POST', `/v1/marketplace/gpu/${g}/release`, { key: KEYS.client2 })));
      await waitFor(async () => (await Promise.all(submitted.map((s) => bidOf(s.body.id)))).every((b) => b.status === 'accepted'), 10_000, 'every bid to fill');
      const states = await Promise.all(submitted.map((s) => bidOf(s.body.id)));
      const ids = states.flatMap((b) => b.booking_ids);
      assert.equal(new Set(ids).size, 12, 'one booking per bid');
      const live = await mesh.booking.db('bookings').whereIn('gpu_id', gpus).where('status', 'active');
      assert.deepEqual(live.map((b: { booking_id: string }) => b.booking_id).sort(), [...ids].sort(), 'nothing booked but the fills');
      assert.equal(new Set(live.map((b: { gpu_id: string }) => b.gpu_id)).size, 12, 'no GPU in two bids');
      await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to settle');
    } finally {
      await second.stop();
    }
  });
});
