import assert from 'node:assert/strict';
import { Agent } from 'undici';
import type { Delivery } from '../../lib/events/bus';
import { recordEvents, waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

describe('booking through the gateway', function () {
  this.timeout(60_000);
  let mesh: TestMesh & { prefix: string };
  let ended: Delivery[];
  let recorder: { stop(): Promise<void> };
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const snapshot = () => mesh.booking.db('bookings').orderBy('booking_id').select();

  /** A fresh available GPU owned by acme. */
  const newGpu = async (price = 1.2, minerId = 'default') => {
    const res = await call('POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': minerId }, body: { gpu: { name: 'RTX 4090', memory_gb: 24, cuda_cores: 16384, compute_capability: '8.9', price_per_hour: price } },
    });
    assert.equal(res.status, 201);
    return res.body.gpu_id as string;
  };
  /** The CLI's book request. */
  const book = (gpuId: string, body: Record<string, unknown> = {}, key = KEYS.client, headers: Record<string, string> = {}) =>
    call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key, headers, body: { gpu_id: gpuId, duration_hours: 2, total_cost: 10, ...body } });
  /** The CLI's release request: a POST with no body and no content type. */
  const release = (gpuId: string, key = KEYS.client) => call('POST', `/v1/marketplace/gpu/${gpuId}/release`, { key });
  const gpu = async (id: string, key = KEYS.client) => (await call('GET', `/v1/marketplace/gpu/${id}`, { key })).body;

  before(async () => {
    // A booking pool large enough for 50 bookings to really run at once (the booking service
    // only: every service with 60 would pass PostgreSQL's 100 connections and fail the race
    // with errors instead of conflicts). Without pricing: these tests check billing at listed
    // prices (pricing has its own suite). A long gateway deadline: these tests are about
    // outcomes, not latency, and one CI run saw 7 of 50 racing requests pass the default 3 s
    // (the losers wait on the winner's commit; the stall was not reproduced).
    mesh = await startTestMesh({ RPC_DEADLINE_MS: '20000' }, { pricing: false, bookingEnv: { DB_POOL_MAX: '60' } });
    const recording = await recordEvents(mesh.prefix, ['booking.ended']);
    ({ seen: ended } = recording);
    recorder = recording;
  });
  after(async () => {
    await recorder?.stop();
    await mesh?.stop();
  });

  it('runs the CLI flow: book → confirm → release, with the order showing charge and refund', async () => {
    const gpuId = await newGpu(1.2);
    const booked = await book(gpuId, { job_id: 'job-42' });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));
    const b = booked.body;
    assert.match(b.booking_id, /^bkg_/);
    assert.match(b.order_id, /^ord_/);
    assert.equal(b.gpu_id, gpuId);
    assert.equal(b.client_id, 'alice');
    assert.equal(b.job_id, 'job-42');
    assert.equal(b.status, 'active');
    assert.equal(b.duration_hours, 2);
    assert.equal(b.price_per_hour, 1.2);
    assert.equal(b.total_cost, 2.4);
    assert.deepEqual(b.pricing, { listed_price: 1.2, multiplier: 1, source: 'listed_price' });
    assert.equal(new Date(b.end_time).getTime() - new Date(b.start_time).getTime(), 2 * 3600 * 1000);

    // The registry learns of it from booking.created: booked within a second.
    await waitFor(async () => (await gpu(gpuId)).status === 'booked', 3000, 'status booked');
    const details = await gpu(gpuId);
    assert.equal(details.booking_expires, b.end_time);
    assert.equal(details.total_bookings, 1);
    assert.equal(details.current_booking.booking_id, b.booking_id);
    assert.equal((await gpu(gpuId, KEYS.provider)).current_booking.booking_id, b.booking_id, 'the owner sees it');
    assert.equal((await gpu(gpuId, KEYS.client2)).current_booking, undefined, 'another client does not');
    const listed = await call('GET', '/v1/marketplace/gpu/list?status=booked&limit=500', { key: KEYS.client });
    assert.ok(listed.body.some((g: { id: string }) => g.id === gpuId));

    const confirmed = await call('POST', `/v1/marketplace/gpu/${gpuId}/confirm`, { key: KEYS.client, body: { client_id: KEYS.client } });
    assert.equal(confirmed.status, 200);
    assert.match(confirmed.body.confirmed_at, /Z$/);
    assert.ok(!JSON.stringify(confirmed.body).includes(KEYS.client), 'the API key sent as client_id is never echoed');
    assert.ok(!JSON.stringify(await snapshot()).includes(KEYS.client), 'nor stored');

    await new Promise((r) => setTimeout(r, 1100));
    const released = await release(gpuId);
    assert.equal(released.status, 200, JSON.stringify(released.body));
    assert.equal(released.body.status, 'released');
    assert.equal(released.body.booking_id, b.booking_id);
    const { charged, refund } = released.body;
    assert.ok(charged > 0 && refund > 0);
    assert.equal(Math.round((charged + refund) * 1e6), Math.round(2.4 * 1e6));

    const orders = await call('GET', '/v1/marketplace/orders?limit=10', { key: KEYS.client });
    assert.equal(orders.status, 200);
    const order = orders.body.find((o: { booking_id: string }) => o.booking_id === b.booking_id);
    assert.deepEqual(
      { status: order.status, charged: order.charged, refund: order.refund, total_cost: order.total_cost, gpu_model: order.gpu_model, miner_id: order.miner_id },
      { status: 'released', charged, refund, total_cost: 2.4, gpu_model: 'RTX 4090', miner_id: 'default' },
    );
    assert.match(order.completed_at, /Z$/);
    await waitFor(async () => (await gpu(gpuId)).status === 'available', 3000, 'available again');
    assert.equal((await release(gpuId)).status, 409, 'releasing twice');
    const confirmLate = await call('POST', `/v1/marketplace/gpu/${gpuId}/confirm`, { key: KEYS.client, body: { client_id: KEYS.client } });
    assert.equal(confirmLate.status, 409);
  });

  it('quotes with dry_run, refuses a total_cost below the cost with the current quote, and stores nothing', async () => {
    const gpuId = await newGpu(3);
    const before = await snapshot();
    const dry = await call('POST', `/v1/marketplace/gpu/${gpuId}/book?dry_run=true`, { key: KEYS.client, body: { duration_hours: 1.5 } });
    assert.equal(dry.status, 200);
    assert.deepEqual({ would_succeed: dry.body.would_succeed, total_cost: dry.body.total_cost, price_per_hour: dry.body.price_per_hour },
      { would_succeed: true, total_cost: 4.5, price_per_hour: 3 });
    const cheap = await book(gpuId, { duration_hours: 2, total_cost: 5 });
    assert.equal(cheap.status, 409);
    assert.match(cheap.body.detail, /current cost is 6 AITBC, more than total_cost 5/);
    assert.equal(cheap.body.quote.total_cost, 6);
    assert.equal(cheap.body.quote.price_per_hour, 3);
    assert.deepEqual(await snapshot(), before);
  });

  const badBooks: [string, Record<string, unknown>, number, RegExp][] = [
    ['zero duration', { duration_hours: 0 }, 400, /duration_hours/],
    ['negative duration', { duration_hours: -1 }, 400, /duration_hours/],
    ['huge duration', { duration_hours: 100000 }, 400, /duration_hours/],
    ['text duration', { duration_hours: 'two' }, 400, /duration_hours: must be a number/],
    ['no duration', { duration_hours: undefined }, 400, /duration_hours: is required/],
    ['negative total_cost', { total_cost: -1 }, 400, /total_cost/],
    ['mismatched gpu_id', { gpu_id: 'gpu_00000000000000000000' }, 400, /gpu_id/],
    ['start in the past', { start_time: '2020-01-01T00:00:00Z' }, 400, /start_time/],
    ['start not a time', { start_time: 'tomorrow' }, 400, /start_time/],
    ['unknown field', { colour: 'red' }, 400, /colour/],
  ];
  for (const [label, body, status, detail] of badBooks) {
    it(`refuses a booking with ${label} (${status}), changing nothing`, async () => {
      const gpuId = await newGpu();
      const before = await snapshot();
      const res = await book(gpuId, body);
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.match(res.body.detail, detail);
      assert.deepEqual(await snapshot(), before);
    });
  }

  it('answers 404 for an unknown GPU, 409 for a booked or offline one, 403 for a provider key', async () => {
    assert.equal((await book('gpu_00000000000000000000')).status, 404);
    assert.equal((await book('not-an-id')).status, 404);
    const gpuId = await newGpu();
    const first = await book(gpuId);
    assert.equal(first.status, 201);
    const again = await book(gpuId, {}, KEYS.client2);
    assert.equal(again.status, 409);
    // It says when the GPU is free again, in words and as a field.
    assert.equal(again.body.detail, `GPU ${gpuId} is already booked until ${first.body.end_time}; pick another GPU, or a start_time at or after ${first.body.end_time}`);
    assert.equal(again.body.booked_until, first.body.end_time);
    const dry = await call('POST', `/v1/marketplace/gpu/${gpuId}/book?dry_run=true`, { key: KEYS.client2, body: { duration_hours: 1 } });
    assert.equal(dry.body.would_succeed, false);
    assert.match(dry.body.reason, new RegExp(`booked until ${first.body.end_time}`));
    const after = await book(gpuId, { start_time: first.body.end_time }, KEYS.client2);
    assert.equal(after.status, 201, 'the start it suggests is free');
    // Booking again what you already hold (a retry after a lost answer) names your booking.
    const mine = await book(gpuId);
    assert.equal(mine.status, 409);
    assert.equal(mine.body.detail, `you already hold booking ${first.body.booking_id} on GPU ${gpuId} until ${first.body.end_time}; release it first, or pick a start_time at or after ${after.body.end_time}`);
    assert.equal(mine.body.booking_id, first.body.booking_id);
    assert.equal(mine.body.booked_until, after.body.end_time, 'free after the last booking in the way');
    const provider = await book(await newGpu(), {}, KEYS.provider);
    assert.equal(provider.status, 403);
    const offline = await newGpu(1, 'gone-rig');
    await call('POST', '/v1/miners/heartbeat', { key: KEYS.provider, headers: { 'X-Miner-ID': 'gone-rig' }, body: { status: 'OFFLINE' } });
    // Booking learns a GPU's liveness from the registry's events (milliseconds later): once
    // it has, the GPU is refused. (A booking accepted in the moment before is cancelled with
    // a full refund when the event arrives: see the booking service's integration tests.)
    const dryRun = () => call('POST', `/v1/marketplace/gpu/${offline}/book?dry_run=true`, { key: KEYS.client, body: { duration_hours: 1 } });
    await waitFor(async () => (await dryRun()).status === 409, 3000, 'booking to learn the GPU is offline');
    const res = await book(offline);
    assert.equal(res.status, 409);
    assert.match(res.body.detail, /offline/);
  });

  it("hides another client's booking (404) and changes nothing when it tries to act on it", async () => {
    const gpuId = await newGpu();
    const { body: b } = await book(gpuId);
    const before = await snapshot();
    assert.equal((await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.client2 })).status, 404);
    assert.equal((await call('POST', `/v1/marketplace/bookings/${b.booking_id}/release`, { key: KEYS.client2 })).status, 404);
    assert.equal((await release(gpuId, KEYS.client2)).status, 409);
    assert.equal((await call('POST', `/v1/marketplace/gpu/${gpuId}/confirm`, { key: KEYS.client2, body: {} })).status, 409);
    assert.equal((await call('GET', '/v1/marketplace/bookings/bkg_00000000000000000000', { key: KEYS.client })).status, 404);
    assert.deepEqual(await snapshot(), before);
    // Its client, the GPU's owner and admin can read it; another provider cannot.
    assert.equal((await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.client })).status, 200);
    assert.equal((await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.provider })).status, 200);
    assert.equal((await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.admin })).status, 200);
    assert.equal((await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.provider2 })).status, 404);
    // Orders are scoped the same way.
    const mine = (await call('GET', '/v1/marketplace/orders?limit=500', { key: KEYS.client2 })).body;
    assert.ok(!mine.some((o: { booking_id: string }) => o.booking_id === b.booking_id));
    const owner = (await call('GET', '/v1/marketplace/orders?limit=500', { key: KEYS.provider })).body;
    assert.ok(owner.some((o: { booking_id: string }) => o.booking_id === b.booking_id));
    assert.ok(!(await call('GET', '/v1/marketplace/orders?limit=500', { key: KEYS.provider2 })).body.some((o: { booking_id: string }) => o.booking_id === b.booking_id));
    const active = (await call('GET', '/v1/marketplace/orders?status=active&limit=500', { key: KEYS.admin })).body;
    assert.ok(active.every((o: { status: string }) => o.status === 'active'));
    assert.equal((await call('GET', '/v1/marketplace/orders?status=weird', { key: KEYS.admin })).status, 400);
    assert.equal((await call('GET', '/v1/marketplace/orders?limit=0', { key: KEYS.admin })).status, 400);
    // Release by booking id works for its client.
    const byId = await call('POST', `/v1/marketplace/bookings/${b.booking_id}/release`, { key: KEYS.client });
    assert.equal(byId.status, 200);
  });

  it('makes 50 simultaneous bookings of one GPU end in exactly 1 success and 49 conflicts, round after round', async () => {
    const gpuId = await newGpu();
    const dispatcher = new Agent({ connections: 60, pipelining: 0 });
    try {
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) =>
          fetch(`${mesh.url}/v1/marketplace/gpu/${gpuId}/book`, {
            method: 'POST', dispatcher,
            headers: { 'X-Api-Key': i % 2 ? KEYS.client : KEYS.client2, 'Content-Type': 'application/json' },
            body: JSON.stringify({ gpu_id: gpuId, duration_hours: 1 }),
          } as RequestInit).then(async (r) => ({ status: r.status, body: await r.json() }))));
        const codes = results.map((r) => r.status);
        assert.equal(codes.filter((c) => c === 201).length, 1, `round ${round}: ${codes.join(',')}`);
        assert.equal(codes.filter((c) => c === 409).length, 49, `round ${round}: ${JSON.stringify(results.filter((r) => r.status !== 201 && r.status !== 409).slice(0, 3))}`);
        // Each is told when the GPU is free: racing inserts take turns, none is a deadlock's victim ("retry").
        const unclear = results.map((r) => ({ status: r.status, ...(r.body as { booked_until?: string; detail?: string }) }))
          .filter((r) => r.status === 409 && !r.booked_until);
        assert.deepEqual(unclear.map((r) => r.detail), [], `round ${round}`);
        const winner = results.find((r) => r.status === 201)!.body as { client_id: string };
        const key = winner.client_id === 'alice' ? KEYS.client : KEYS.client2;
        assert.equal((await release(gpuId, key)).status, 200);
      }
    } finally {
      await dispatcher.close();
    }
    const live = await mesh.booking.db('bookings').where({ gpu_id: gpuId, status: 'active' });
    assert.equal(live.length, 0);
  });

  it('accepts back-to-back windows and refuses an overlapping row even from raw SQL', async () => {
    const gpuId = await newGpu();
    const tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
    tomorrow.setUTCHours(10, 0, 0, 0);
    const first = await book(gpuId, { start_time: tomorrow.toISOString(), duration_hours: 1 });
    const secondStart = new Date(tomorrow.getTime() + 3600 * 1000).toISOString();
    const second = await book(gpuId, { start_time: secondStart, duration_hours: 1 });
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(second.body.start_time, first.body.end_time);
    // An advance reservation does not make the GPU booked now.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await gpu(gpuId)).status, 'available');
    const overlapping = await book(gpuId, { start_time: new Date(tomorrow.getTime() + 1800 * 1000).toISOString(), duration_hours: 1 });
    assert.equal(overlapping.status, 409);
    const row = (await mesh.booking.db('bookings').where({ booking_id: first.body.booking_id }).first());
    await assert.rejects(
      mesh.booking.db('bookings').insert({ ...row, booking_id: 'bkg_raw', order_id: 'ord_raw', start_time: new Date(tomorrow.getTime() + 1800 * 1000) }),
      (err: { code?: string; constraint?: string }) => err.code === '23P01' && err.constraint === 'bookings_no_overlap',
    );
  });

  it('lets a client hold at most 20 reservations that have not started, counted by the database under races', async () => {
    const gpuId = await newGpu();
    const hour = 3600_000;
    const base = Math.ceil(Date.now() / hour) * hour + 48 * hour;
    const reserve = (i: number) => book(gpuId, { start_time: new Date(base + i * 2 * hour).toISOString(), duration_hours: 0.01, total_cost: undefined }, KEYS.client2);
    const releaseAll = async () => {
      for (const b of await mesh.booking.db('bookings').where({ client_id: 'bob', status: 'active' })) {
        assert.equal((await call('POST', `/v1/marketplace/bookings/${b.booking_id}/release`, { key: KEYS.client2 })).status, 200);
      }
    };
    await releaseAll(); // what earlier tests left
    const raced = await Promise.all(Array.from({ length: 25 }, (_, i) => reserve(i)));
    assert.equal(raced.filter((r) => r.status === 201).length, 20, JSON.stringify(raced.map((r) => [r.status, r.body.reason ?? r.body.detail])));
    const refused = raced.filter((r) => r.status !== 201);
    assert.ok(refused.every((r) => r.status === 409 && r.body.reason === 'too_many_reservations'), JSON.stringify(refused[0]?.body));
    const live = await mesh.booking.db('bookings').where({ client_id: 'bob', status: 'active' }).whereRaw('start_time > now()');
    assert.equal(live.length, 20);
    // Releasing one makes room for one; a booking that starts now is never counted.
    const one = raced.find((r) => r.status === 201)!;
    assert.equal((await call('POST', `/v1/marketplace/bookings/${one.body.booking_id}/release`, { key: KEYS.client2 })).status, 200);
    assert.equal((await reserve(30)).status, 201);
    assert.equal((await reserve(31)).status, 409);
    await releaseAll();
    // Every hold of the refused ones given back, every release settled: the money adds up.
    await waitFor(async () => (await ledgerProblems(mesh.db)).length === 0, 10_000, 'the ledger to add up');
    const held = await mesh.db('accounts.holds').where({ client_id: 'bob' }).whereIn('status', ['pending', 'confirmed']);
    assert.deepEqual(held, [], 'nothing of bob is still held');
  });

  it('replays one booking for 20 concurrent and 100 sequential retries with one Idempotency-Key, and refuses another body (422)', async () => {
    const gpuId = await newGpu();
    const headers = { 'Idempotency-Key': `key-${gpuId}` };
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => book(gpuId, { duration_hours: 1 }, KEYS.client, headers)));
    const sequential = [];
    for (let i = 0; i < 100; i++) sequential.push(await book(gpuId, { duration_hours: 1 }, KEYS.client, headers));
    const all = [...concurrent, ...sequential];
    assert.ok(all.every((r) => r.status === 201), all.map((r) => r.status).join(','));
    const first = JSON.stringify(all[0].body);
    assert.ok(all.every((r) => JSON.stringify(r.body) === first), 'identical answers');
    assert.equal(all.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 119);
    assert.equal((await mesh.booking.db('bookings').where({ gpu_id: gpuId })).length, 1);
    const other = await book(gpuId, { duration_hours: 3 }, KEYS.client, headers);
    assert.equal(other.status, 422);
    assert.match(other.body.detail, /Idempotency-Key was used with a different request/);
    // Keys are scoped to the caller: bob's same key is his own (and meets the booked GPU).
    assert.equal((await book(gpuId, { duration_hours: 1 }, KEYS.client2, headers)).status, 409);
  });

  it('ends a short booking on its own: order completed, GPU available, exactly one booking.ended', async () => {
    const gpuId = await newGpu(3.6);
    const res = await book(gpuId, { duration_hours: 2 / 3600 });
    assert.equal(res.status, 201);
    const id = res.body.booking_id;
    await waitFor(async () => (await gpu(gpuId)).status === 'booked', 3000, 'booked');
    await waitFor(async () => (await call('GET', `/v1/marketplace/bookings/${id}`, { key: KEYS.client })).body.status === 'completed', 5000, 'expiry');
    const done = (await call('GET', `/v1/marketplace/bookings/${id}`, { key: KEYS.client })).body;
    assert.equal(done.end_reason, 'expired');
    assert.equal(done.charged, 0.002);
    assert.equal(done.refund, 0);
    await waitFor(async () => (await gpu(gpuId)).status === 'available', 3000, 'available');
    await waitFor(() => ended.some((d) => d.envelope.aggregateId === id), 3000, 'booking.ended');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ended.filter((d) => d.envelope.aggregateId === id).length, 1);
  });

  it('cancels a running booking when its GPU goes offline, refunding the unused time', async () => {
    const reg = await call('POST', '/v1/miners/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': 'flaky' }, body: { capabilities: { gpu: { model: 'A100', memory_gb: 80, price_per_hour: 2 } } },
    });
    const gpuId = reg.body.gpus[0].id;
    const { body: b } = await book(gpuId, { duration_hours: 1 });
    await call('POST', '/v1/miners/heartbeat', { key: KEYS.provider, headers: { 'X-Miner-ID': 'flaky' }, body: { status: 'OFFLINE' } });
    await waitFor(async () => (await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.client })).body.status === 'cancelled', 5000, 'cancelled');
    const c = (await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.client })).body;
    assert.equal(c.end_reason, 'gpu_offline');
    assert.ok(c.refund > 1.99 && c.refund < 2, 'the unused time refunded');
    assert.ok(c.charged > 0, 'paid up to the moment the miner said it was going offline');
    assert.equal(Math.round((c.charged + c.refund) * 1e6), 2_000_000);
  });

  it('cancels live bookings when the owner unregisters the GPU with force=true', async () => {
    const gpuId = await newGpu(2);
    const { body: b } = await book(gpuId, { duration_hours: 1 });
    await waitFor(async () => (await gpu(gpuId)).status === 'booked', 3000, 'booked');
    assert.equal((await call('DELETE', `/v1/marketplace/gpu/${gpuId}?force=false`, { key: KEYS.provider })).status, 409);
    assert.equal((await call('DELETE', `/v1/marketplace/gpu/${gpuId}?force=true`, { key: KEYS.provider })).status, 200);
    await waitFor(async () => (await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.client })).body.status === 'cancelled', 5000, 'cancelled');
    const c = (await call('GET', `/v1/marketplace/bookings/${b.booking_id}`, { key: KEYS.client })).body;
    assert.equal(c.end_reason, 'cancelled');
    assert.ok(c.refund > 1.99);
  });
});
