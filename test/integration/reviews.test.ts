import type { Knex } from '../../lib/db';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Role } from '../../lib/caller';
import type { DomainError } from '../../lib/errors';
import { ModerationAction, ReviewsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/reviews';
import { type ClientHandle } from '../../lib/grpcClient';
import { newId } from '../../lib/ids';
import { createLogger } from '../../lib/logger';
import type { RunningService } from '../../lib/service';
import { averageOf } from '../../services/reviews/src/domain/ratings';
import { readReviewsConfig, startReviews } from '../../services/reviews/src/main';
import { reviewsStore } from '../../services/reviews/src/store';
import { deleteStream, NATS_URL, testPrefix } from '../support/events';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { LOG_LEVEL, testClient, KEY_LIST } from '../support/testMesh';

const admin = { accountId: 'ops', role: Role.ROLE_ADMIN };
const client = (i: number) => ({ accountId: `c${i}`, role: Role.ROLE_CLIENT });

/** One step of a random history: a client adds or edits its review, an admin hides or restores it. */
type Step =
  | { op: 'add'; who: number; rating: number }
  | { op: 'edit'; who: number; rating: number }
  | { op: 'hide' | 'restore'; who: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('add' as const), who: fc.nat(5), rating: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constant('edit' as const), who: fc.nat(5), rating: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ op: fc.constantFrom('hide' as const, 'restore' as const), who: fc.nat(5) }),
);

/** The summary recomputed from every visible review: what the kept summary must equal. */
async function recountOf(db: Knex, gpuId: string): Promise<number[]> {
  const rows: { rating: number; n: string }[] = await db('reviews').where({ gpu_id: gpuId, hidden: false }).groupBy('rating').select('rating').count({ n: '*' });
  const h = [0, 0, 0, 0, 0];
  for (const r of rows) h[r.rating - 1] = Number(r.n);
  return h;
}

describe('reviews service over gRPC: the rating summary', function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let prefix: string;
  let service: RunningService;
  let reviews: ClientHandle<ReviewsServiceClient>;

  before(async () => {
    database = await createTestDatabase();
    prefix = testPrefix();
    service = await startReviews(readReviewsConfig({ NATS_URL, NATS_SUBJECT_PREFIX: prefix, REVIEWS_PORT: '0' }, { databaseUrl: database.url, apiKeys: KEY_LIST }),
      createLogger('reviews', LOG_LEVEL));
    reviews = testClient(ReviewsServiceClient, service.address, 5000);
  });
  after(async () => {
    reviews?.close();
    await service?.stop();
    await database?.drop();
    await deleteStream(prefix);
  });

  /** A GPU that clients c0..c5 have booked (the projection booking events would have written). */
  async function bookedGpu(): Promise<string> {
    const gpuId = newId('gpu');
    await reviewsStore.knowGpu(service.db, gpuId, 'acme');
    for (let i = 0; i <= 5; i++) {
      await reviewsStore.addRenter(service.db, { gpu_id: gpuId, client_id: `c${i}`, booking_id: newId('bkg'), booked_at: new Date(), start_time: new Date() });
    }
    return gpuId;
  }

  it('equals a full recomputation after any sequence of adds, edits, hides and restores (property)', async () => {
    let runs = 0;
    let steps = 0;
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (history) => {
      runs++;
      const gpuId = await bookedGpu();
      const ids = new Map<number, string>();
      for (const s of history) {
        steps++;
        const reviewId = ids.get(s.who);
        if (s.op === 'add') {
          try {
            const res = await reviews.client.addReview({ caller: client(s.who), gpuId, rating: s.rating });
            ids.set(s.who, res.review!.reviewId);
          } catch (err) {
            // Only a second review by the same client may fail, and it must say so.
            assert.equal((err as DomainError).code, 'ALREADY_EXISTS');
            assert.ok(reviewId);
          }
        } else if (!reviewId) {
          continue;
        } else if (s.op === 'edit') {
          await reviews.client.editReview({ caller: client(s.who), reviewId, rating: s.rating, setComment: false });
        } else {
          await reviews.client.moderateReview({
            caller: admin, reviewId, reason: 'property test',
            action: s.op === 'hide' ? ModerationAction.MODERATION_ACTION_HIDE : ModerationAction.MODERATION_ACTION_RESTORE,
          });
        }
      }
      const kept = (await reviewsStore.summary(service.db, gpuId))?.histogram ?? [0, 0, 0, 0, 0];
      const recount = await recountOf(service.db, gpuId);
      assert.deepEqual(kept, recount);
      // The average the API shows is the SQL average of the visible ratings, to two decimals.
      const { rows } = await service.db.raw('SELECT round(avg(rating)::numeric, 2) AS avg FROM reviews WHERE gpu_id = ? AND NOT hidden', [gpuId]);
      const listed = await reviews.client.listReviews({ caller: client(0), gpuId, limit: 100, cursor: '' });
      assert.equal(listed.summary!.averageRating, Number(rows[0].avg ?? 0));
      assert.equal(listed.summary!.averageRating, averageOf(recount as [number, number, number, number, number]));
      assert.equal(listed.reviews.length, recount.reduce((a, b) => a + b, 0));
    }), { numRuns: 100 });
    process.stdout.write(`      (${runs} random histories, ${steps} steps)\n`);
  });

  it('refuses bad input over gRPC with the right status', async () => {
    const gpuId = await bookedGpu();
    const cases: [() => Promise<unknown>, string][] = [
      [() => reviews.client.addReview({ caller: client(0), gpuId, rating: 0 }), 'INVALID_ARGUMENT'],
      [() => reviews.client.addReview({ caller: { accountId: 'acme', role: Role.ROLE_PROVIDER }, gpuId, rating: 5 }), 'PERMISSION_DENIED'],
      [() => reviews.client.addReview({ caller: client(9), gpuId, rating: 5 }), 'PERMISSION_DENIED'],
      [() => reviews.client.addReview({ caller: client(0), gpuId: newId('gpu'), rating: 5 }), 'NOT_FOUND'],
      [() => reviews.client.addReview({ caller: client(0), gpuId, rating: 5, comment: 'a\u0000b' }), 'INVALID_ARGUMENT'],
      [() => reviews.client.editReview({ caller: client(0), reviewId: 'rev_nope', setComment: false }), 'INVALID_ARGUMENT'],
      [() => reviews.client.moderateReview({ caller: admin, reviewId: newId('rev'), action: ModerationAction.MODERATION_ACTION_UNSPECIFIED, reason: 'x' }), 'INVALID_ARGUMENT'],
      [() => reviews.client.listReviews({ caller: client(0), gpuId, limit: 101, cursor: '' }), 'INVALID_ARGUMENT'],
    ];
    for (const [call, code] of cases) await assert.rejects(call(), (err: DomainError) => err.code === code);
    assert.equal((await service.db('reviews').where({ gpu_id: gpuId })).length, 0);
  });
});
