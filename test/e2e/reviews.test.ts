import assert from 'node:assert/strict';
import type { Delivery } from '../../lib/events/bus';
import { recordEvents, waitFor } from '../support/events';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

/** 100 more client keys, for the concurrency test. */
const CROWD = Array.from({ length: 100 }, (_, i) => ({ account: `crowd${i}`, key: `crowd-client-key-${String(i).padStart(8, '0')}` }));

describe('reviews through the gateway', function () {
  this.timeout(90_000);
  let mesh: TestMesh & { prefix: string };
  let events: Delivery[];
  let recorder: { stop(): Promise<void> };
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const newGpu = async (minerId: string) => {
    const res = await call('POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': minerId }, body: { gpu: { name: 'RTX 3090', memory_gb: 24, price_per_hour: 1 } },
    });
    assert.equal(res.status, 201);
    return res.body.gpu_id as string;
  };
  /** Books the GPU for the client (an hour, starting `hoursAhead` from now), then, for a start now, releases it. */
  const bookOnce = async (gpuId: string, key: string, hoursAhead = 0) => {
    const start = hoursAhead ? { start_time: new Date(Date.now() + hoursAhead * 3600_000).toISOString() } : {};
    const res = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key, body: { gpu_id: gpuId, duration_hours: 1, ...start } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    if (!hoursAhead) assert.equal((await call('POST', `/v1/marketplace/gpu/${gpuId}/release`, { key })).status, 200);
    return res.body.booking_id as string;
  };
  /** The CLI's exact review request. */
  const review = (gpuId: string, rating: unknown, comment: unknown = null, key = KEYS.client) =>
    call('POST', `/v1/marketplace/gpu/${gpuId}/reviews`, { key, body: { rating, comment } });
  const reviews = (gpuId: string, key = KEYS.client, query = 'limit=10') => call('GET', `/v1/marketplace/gpu/${gpuId}/reviews?${query}`, { key });
  const gpu = async (id: string) => (await call('GET', `/v1/marketplace/gpu/${id}`, { key: KEYS.client })).body;
  /** Waits until reviews knows the renter (booking.created reached its projection). */
  const eligible = async (gpuId: string, clientAccount: string) =>
    waitFor(async () => (await mesh.reviews.db('renters').where({ gpu_id: gpuId, client_id: clientAccount }).first()) !== undefined, 5000, 'renter');

  before(async () => {
    mesh = await startTestMesh({}, { pricing: false, extraKeys: CROWD.map((c) => `client:${c.account}:${c.key}`) });
    const recording = await recordEvents(mesh.prefix, ['review.>'], 'review-recorder');
    ({ seen: events } = recording);
    recorder = recording;
  });
  after(async () => {
    await recorder?.stop();
    await mesh?.stop();
  });

  it('takes the CLI review after a booking (201), and the GPU shows the average within a second', async () => {
    const gpuId = await newGpu('rv-1');
    const bookingId = await bookOnce(gpuId, KEYS.client);
    await eligible(gpuId, 'alice');
    const res = await review(gpuId, 4, null);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.review_id, /^rev_/);
    assert.deepEqual({ gpu: res.body.gpu_id, booking: res.body.booking_id, user: res.body.user, rating: res.body.rating, comment: res.body.comment },
      { gpu: gpuId, booking: bookingId, user: 'alice', rating: 4, comment: null });
    const started = Date.now();
    await waitFor(async () => (await gpu(gpuId)).average_rating === 4, 1000, 'average on the GPU');
    process.stdout.write(`      (GPU details showed the average after ${Date.now() - started} ms)\n`);
    assert.equal((await gpu(gpuId)).total_reviews, 1);
    const listed = await call('GET', '/v1/marketplace/gpu/list?model=3090&min_rating=4&limit=50', { key: KEYS.client });
    assert.ok(listed.body.some((g: { id: string }) => g.id === gpuId));

    const body = (await reviews(gpuId)).body;
    assert.deepEqual({ ...body, reviews: body.reviews.length }, {
      gpu_id: gpuId, average_rating: 4, total_reviews: 1, rating_histogram: { 1: 0, 2: 0, 3: 0, 4: 1, 5: 0 }, reviews: 1, next_cursor: null,
    });
    assert.equal(events.filter((e) => e.envelope.type === 'review.added' && e.envelope.aggregateId === gpuId).length, 1);
    // Which booking a review came from: for its author, the GPU's owner and admins, no one else.
    const bookingSeenBy = async (key: string) => (await reviews(gpuId, key)).body.reviews[0].booking_id;
    assert.equal(await bookingSeenBy(KEYS.client), bookingId);
    assert.equal(await bookingSeenBy(KEYS.provider), bookingId);
    assert.equal(await bookingSeenBy(KEYS.admin), bookingId);
    assert.equal(await bookingSeenBy(KEYS.client2), null);
    assert.equal(await bookingSeenBy(KEYS.provider2), null);

    // A second review by the same client: 409 naming the first; the author may edit it.
    const again = await review(gpuId, 5);
    assert.equal(again.status, 409);
    assert.equal(again.body.review_id, res.body.review_id);
    assert.match(again.body.detail, /already reviewed/);
    const edited = await call('PATCH', `/v1/marketplace/reviews/${res.body.review_id}`, { key: KEYS.client, body: { rating: 2, comment: '  fine after all  ' } });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.deepEqual([edited.body.rating, edited.body.comment, edited.body.rating_summary.average_rating], [2, 'fine after all', 2]);
    await waitFor(async () => (await gpu(gpuId)).average_rating === 2, 2000, 'edited average on the GPU');
    // Someone else's review is not theirs to edit (404, unchanged).
    assert.equal((await call('PATCH', `/v1/marketplace/reviews/${res.body.review_id}`, { key: KEYS.client2, body: { rating: 5 } })).status, 404);
    const history = await call('GET', `/v1/marketplace/gpu/${gpuId}/rating-history`, { key: KEYS.client });
    assert.deepEqual(history.body.points.map((p: { average_rating: number }) => p.average_rating), [4, 2]);
    // An unregistered GPU keeps its history: its reviews can still be read.
    assert.equal((await call('DELETE', `/v1/marketplace/gpu/${gpuId}`, { key: KEYS.provider })).status, 200);
    const kept = await reviews(gpuId);
    assert.deepEqual([kept.status, kept.body.total_reviews], [200, 1]);
  });

  it('refuses bad reviews with the right status and a clear message, storing nothing', async () => {
    const gpuId = await newGpu('rv-2');
    await waitFor(async () => (await reviews(gpuId)).status === 200, 5000, 'GPU known to reviews');
    const denied = await review(gpuId, 5, 'never booked it', KEYS.client2);
    assert.equal(denied.status, 403);
    assert.match(denied.body.detail, /only clients who booked GPU .* can review it/);
    await bookOnce(gpuId, KEYS.client);
    await eligible(gpuId, 'alice');
    const cases: [unknown, unknown, number, RegExp][] = [
      [0, null, 400, /rating/], [6, null, 400, /rating/], [3.5, null, 400, /rating/], ['five', null, 400, /rating/], [null, null, 400, /rating/],
      [4, 'x'.repeat(2001), 400, /comment: must be at most 2000 characters/], [4, 'bell\u0007', 400, /comment: must not contain control characters/],
      [4, 42, 400, /comment/],
    ];
    for (const [rating, comment, status, detail] of cases) {
      const res = await review(gpuId, rating, comment);
      assert.equal(res.status, status, `${JSON.stringify([rating, comment])}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.detail, detail);
    }
    assert.equal((await review(gpuId, 5, null, KEYS.provider)).status, 403);
    assert.match((await review(gpuId, 5, null, KEYS.provider)).body.detail, /client key/);
    assert.equal((await review('gpu_00000000000000000000', 5)).status, 404);
    assert.equal((await reviews('gpu_00000000000000000000')).status, 404);
    assert.equal((await reviews(gpuId, KEYS.client, 'limit=0')).status, 400);
    assert.equal((await reviews(gpuId, KEYS.client, 'cursor=garbage')).status, 400);
    assert.equal((await mesh.reviews.db('reviews').where({ gpu_id: gpuId })).length, 0, 'nothing stored');
    // 2,000 characters after trimming is fine; a multi-line comment too.
    const ok = await review(gpuId, 5, `  ${'y'.repeat(1990)}\nline 2  `);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  it('takes a review only for a booking that has started and was not refunded in full', async () => {
    const gpuId = await newGpu('rv-used');
    // A reservation a month ahead: not used yet, no review.
    const ahead = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, {
      key: KEYS.client, body: { duration_hours: 1, start_time: new Date(Date.now() + 30 * 86_400_000).toISOString() },
    });
    assert.equal(ahead.status, 201);
    await eligible(gpuId, 'alice');
    const early = await review(gpuId, 1);
    assert.equal(early.status, 403);
    assert.match(early.body.detail, /once the booking has started/);
    // Released before it began: charged nothing, still no review.
    assert.equal((await call('POST', `/v1/marketplace/bookings/${ahead.body.booking_id}/release`, { key: KEYS.client })).status, 200);
    await waitFor(async () => (await mesh.reviews.db('renters').where({ booking_id: ahead.body.booking_id }).first())?.unused === true, 5000, 'the release to reach reviews');
    assert.equal((await review(gpuId, 1)).status, 403);
    assert.equal((await mesh.reviews.db('reviews').where({ gpu_id: gpuId })).length, 0);
    // Used (booked now, released a moment later, charged for it): the review is taken.
    await bookOnce(gpuId, KEYS.client);
    await waitFor(async () => (await mesh.reviews.db('renters').where({ gpu_id: gpuId, client_id: 'alice' })).length === 2, 5000, 'renter');
    assert.equal((await review(gpuId, 4)).status, 201);
  });

  it('hides and restores reviews (admin, with a reason): hidden ones leave lists and averages', async () => {
    const gpuId = await newGpu('rv-3');
    await bookOnce(gpuId, KEYS.client);
    await bookOnce(gpuId, KEYS.client2);
    await eligible(gpuId, 'alice');
    await eligible(gpuId, 'bob');
    const a = (await review(gpuId, 5, 'great')).body;
    await review(gpuId, 1, 'spam spam', KEYS.client2);
    assert.equal((await reviews(gpuId)).body.average_rating, 3);
    const spam = (await reviews(gpuId)).body.reviews.find((r: { rating: number }) => r.rating === 1);
    const moderate = (id: string, body: unknown, key = KEYS.admin) => call('POST', `/v1/marketplace/reviews/${id}/moderation`, { key, body });

    assert.equal((await moderate(spam.review_id, { action: 'hide', reason: 'spam' }, KEYS.client)).status, 403);
    assert.equal((await moderate(spam.review_id, { action: 'hide' })).status, 400);
    assert.equal((await moderate(spam.review_id, { action: 'delete', reason: 'x' })).status, 400);
    assert.equal((await moderate('rev_00000000000000000000', { action: 'hide', reason: 'x' })).status, 404);
    const hidden = await moderate(spam.review_id, { action: 'hide', reason: 'spam' });
    assert.equal(hidden.status, 200, JSON.stringify(hidden.body));
    assert.deepEqual([hidden.body.hidden, hidden.body.changed, hidden.body.moderation_reason], [true, true, 'spam']);
    const visible = (await reviews(gpuId)).body;
    assert.deepEqual([visible.average_rating, visible.total_reviews, visible.reviews.map((r: { review_id: string }) => r.review_id)], [5, 1, [a.review_id]]);
    assert.equal(visible.rating_histogram['1'], 0);
    assert.equal(visible.reviews[0].hidden, undefined, 'clients do not see moderation fields');
    const forAdmin = (await reviews(gpuId, KEYS.admin)).body;
    assert.equal(forAdmin.reviews.length, 2);
    assert.equal(forAdmin.reviews.find((r: { review_id: string }) => r.review_id === spam.review_id).hidden, true);
    await waitFor(async () => (await gpu(gpuId)).average_rating === 5, 2000, 'registry average without the hidden review');
    // Hiding twice changes nothing; restoring brings it back.
    assert.equal((await moderate(spam.review_id, { action: 'hide', reason: 'spam' })).body.changed, false);
    const restored = await moderate(spam.review_id, { action: 'restore', reason: 'appeal upheld' });
    assert.deepEqual([restored.body.hidden, restored.body.rating_summary.average_rating, restored.body.rating_summary.total_reviews], [false, 3, 2]);
    assert.equal((await reviews(gpuId)).body.reviews.length, 2);
    await waitFor(async () => (await gpu(gpuId)).average_rating === 3, 2000, 'registry average with the restored review');
    assert.ok(events.some((e) => e.envelope.type === 'review.moderated' && e.envelope.aggregateId === gpuId));
  });

  it('100 clients reviewing one GPU at once: count 100, the average exactly the mean', async () => {
    const gpuId = await newGpu('rv-4');
    // Each client books it and releases it (a booking earns a review once it has been used), one after another.
    for (const c of CROWD) await bookOnce(gpuId, c.key);
    await waitFor(async () => Number((await mesh.reviews.db('renters').where({ gpu_id: gpuId }).count({ n: '*' }))[0].n) === 100, 10_000, '100 renters');
    const ratings = CROWD.map((_, i) => 1 + ((i * 7) % 5));
    const answers = await Promise.all(CROWD.map((c, i) => review(gpuId, ratings[i], `review ${i}`, c.key)));
    assert.deepEqual([...new Set(answers.map((a) => a.status))], [201]);
    const mean = ratings.reduce((a, b) => a + b, 0) / ratings.length;
    const summary = (await reviews(gpuId)).body;
    assert.equal(summary.total_reviews, 100);
    assert.equal(summary.average_rating, Math.round(mean * 100) / 100);
    assert.deepEqual(Object.values(summary.rating_histogram), [1, 2, 3, 4, 5].map((r) => ratings.filter((x) => x === r).length));
    await waitFor(async () => (await gpu(gpuId)).total_reviews === 100, 5000, 'registry count');
    assert.equal((await gpu(gpuId)).average_rating, summary.average_rating);
    // Pages walk all 100, newest first, none twice.
    const seen: string[] = [];
    let cursor = '';
    do {
      const page = await reviews(gpuId, KEYS.client, `limit=30${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.reviews.map((r: { review_id: string }) => r.review_id));
      cursor = page.body.next_cursor ?? '';
    } while (cursor);
    assert.equal(new Set(seen).size, 100);
  });
});
