import { type Caller, requireCaller, Role } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid, notFound } from '../../../lib/errors';
import { type EventEnvelope, newEvent } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import {
  ModerationAction, type RatingSummary, type Review, ReviewsServiceService, type ReviewsServiceServer,
} from '../../../lib/gen/aitbc/marketplace/v1/reviews';
import type { ServiceBinding } from '../../../lib/grpcServer';
import { isId, newId } from '../../../lib/ids';
import { page, readCursor } from '../../../lib/paging';
import { averageOf, cleanComment, cleanRating, cleanReason, emptyHistogram, totalOf } from './domain/ratings';
import type { ReviewRow, ReviewsStore, SummaryRow } from './store';

const ANYONE = [Role.ROLE_CLIENT, Role.ROLE_PROVIDER, Role.ROLE_ADMIN, Role.ROLE_SERVICE];
const SOURCE = 'reviews';

/** Who may see which booking a review came from: its author, the GPU's owner, admins and mesh services. */
function seesBooking(row: ReviewRow, caller: Caller | undefined, gpuOwnerId?: string): boolean {
  if (!caller) return false;
  return caller.role === Role.ROLE_ADMIN || caller.role === Role.ROLE_SERVICE
    || caller.accountId === row.client_id || (!!gpuOwnerId && caller.accountId === gpuOwnerId);
}

/** A stored review as the Review message; the booking only for those who may see it, the moderation reason only for admins. */
export function reviewMessage(row: ReviewRow, caller?: Caller, gpuOwnerId?: string): Review {
  return {
    reviewId: row.review_id,
    gpuId: row.gpu_id,
    bookingId: seesBooking(row, caller, gpuOwnerId) ? row.booking_id : '',
    user: row.client_id,
    rating: row.rating,
    comment: row.comment ?? undefined,
    hidden: row.hidden,
    moderationReason: caller?.role === Role.ROLE_ADMIN || caller?.role === Role.ROLE_SERVICE ? row.moderation_reason : '',
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function summaryMessage(gpuId: string, row: SummaryRow | undefined): RatingSummary {
  const histogram = row?.histogram ?? emptyHistogram();
  return { gpuId, totalReviews: totalOf(histogram), averageRating: averageOf(histogram), histogram, version: row?.version ?? 0 };
}

/** gRPC handlers of aitbc.marketplace.v1.ReviewsService. */
export function createReviewsHandlers(deps: { db: Knex; store: ReviewsStore; outbox: Outbox }): ServiceBinding<ReviewsServiceServer> {
  const { db, store, outbox } = deps;

  async function requireGpu(trx: Knex, gpuId: string): Promise<void> {
    if (!isId(gpuId, 'gpu') || !(await store.gpuKnown(trx, gpuId))) throw notFound(`GPU ${gpuId}`);
  }

  /**
   * Moves a rating out of and/or into the GPU's summary, records the new average in the
   * rating history, and writes the event carrying it: all in the caller's transaction.
   */
  async function changeSummary(
    trx: Knex, row: ReviewRow, change: { removed?: number; added?: number },
    event: (summary: RatingSummary) => EventEnvelope,
  ): Promise<RatingSummary> {
    const stored = await store.changeSummary(trx, row.gpu_id, change);
    const summary = summaryMessage(row.gpu_id, stored);
    await store.addRatingPoint(trx, {
      gpu_id: row.gpu_id, version: stored.version, at: new Date(), average_rating: summary.averageRating, total_reviews: summary.totalReviews,
    });
    await outbox.enqueue(trx, [event(summary)]);
    return summary;
  }

  /** A review the caller may act on: its author's, or any for admin (others get 404, as if it did not exist). */
  async function reviewFor(trx: Knex, caller: Caller, reviewId: string): Promise<ReviewRow> {
    const row = isId(reviewId, 'rev') ? await store.getReview(trx, reviewId, true) : undefined;
    if (!row || (row.client_id !== caller.accountId && caller.role !== Role.ROLE_ADMIN)) throw notFound(`review ${reviewId}`);
    return row;
  }

  return {
    definition: ReviewsServiceService,
    implementation: {
      async addReview(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT]);
        const rating = cleanRating(req.rating);
        const comment = cleanComment(req.comment);
        return db.transaction(async (trx) => {
          // A booking proves the GPU exists; only without one does "unknown" (404) need asking.
          const bookingId = isId(req.gpuId, 'gpu') ? await store.latestBooking(trx, req.gpuId, caller.accountId) : undefined;
          if (!bookingId) {
            await requireGpu(trx, req.gpuId);
            throw new DomainError('PERMISSION_DENIED', `only clients who booked GPU ${req.gpuId} can review it, once the booking has started; this account has no booking of it that started and was not refunded in full`);
          }
          const row = await store.insertReview(trx, {
            review_id: newId('rev'), gpu_id: req.gpuId, client_id: caller.accountId, booking_id: bookingId, rating, comment,
          });
          if (!row) {
            const first = await store.reviewOf(trx, req.gpuId, caller.accountId);
            throw new DomainError('ALREADY_EXISTS',
              `you already reviewed GPU ${req.gpuId} (review ${first?.review_id}); change it with PATCH /v1/marketplace/reviews/${first?.review_id}`,
              undefined, { review_id: first?.review_id });
          }
          const review = reviewMessage(row, caller);
          const summary = await changeSummary(trx, row, { added: rating }, (s) => newEvent('review.added', SOURCE, row.gpu_id, { review, summary: s }));
          return { review, summary };
        });
      },

      async editReview(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT]);
        const rating = req.rating === undefined ? undefined : cleanRating(req.rating);
        const comment = req.setComment ? cleanComment(req.comment) : undefined;
        if (rating === undefined && !req.setComment) throw invalid('rating', 'give a new rating or comment');
        return db.transaction(async (trx) => {
          const before = await reviewFor(trx, caller, req.reviewId);
          const row = await store.updateReview(trx, before.review_id, {
            ...(rating === undefined ? {} : { rating }), ...(comment === undefined ? {} : { comment }),
          });
          const review = reviewMessage(row, caller);
          // A hidden review is out of the summary; a changed rating of a visible one moves it.
          const moves = !row.hidden && row.rating !== before.rating;
          const change = moves ? { removed: before.rating, added: row.rating } : {};
          const summary = await changeSummary(trx, row, change, (s) => newEvent('review.edited', SOURCE, row.gpu_id, { review, summary: s }));
          return { review, summary };
        });
      },

      async listReviews(req) {
        const caller = requireCaller(req.caller, ANYONE);
        const limit = req.limit || 10;
        if (limit < 1 || limit > 100) throw invalid('limit', 'must be from 1 to 100');
        const after = readCursor('reviews', req.cursor);
        if (!isId(req.gpuId, 'gpu')) throw notFound(`GPU ${req.gpuId}`);
        const { known, ownerId, summary, rows } = await store.listing(db, req.gpuId, { includeHidden: caller.role === Role.ROLE_ADMIN, limit, after });
        if (!known) throw notFound(`GPU ${req.gpuId}`);
        const { items, nextCursor } = page(rows, limit, 'reviews', (last) => [last.created_at, last.review_id]);
        return {
          summary: summaryMessage(req.gpuId, summary),
          gpuOwnerId: ownerId ?? '',
          reviews: items.map((r) => reviewMessage(r, caller, ownerId)),
          nextCursor,
        };
      },

      async moderateReview(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_ADMIN]);
        if (req.action !== ModerationAction.MODERATION_ACTION_HIDE && req.action !== ModerationAction.MODERATION_ACTION_RESTORE) {
          throw invalid('action', 'must be hide or restore');
        }
        const hide = req.action === ModerationAction.MODERATION_ACTION_HIDE;
        const reason = cleanReason(req.reason);
        return db.transaction(async (trx) => {
          const before = await reviewFor(trx, caller, req.reviewId);
          if (before.hidden === hide) {
            return { review: reviewMessage(before, caller), summary: summaryMessage(before.gpu_id, await store.summary(trx, before.gpu_id)), changed: false };
          }
          const row = await store.updateReview(trx, before.review_id, {
            hidden: hide, moderation_reason: reason, moderated_by: caller.accountId, moderated_at: new Date(),
          });
          const review = reviewMessage(row, caller);
          const action = hide ? 'hide' : 'restore';
          const summary = await changeSummary(trx, row, hide ? { removed: row.rating } : { added: row.rating },
            (s) => newEvent('review.moderated', SOURCE, row.gpu_id, { review, summary: s, action, reason }));
          return { review, summary, changed: true };
        });
      },

      async getRatingHistory(req) {
        requireCaller(req.caller, ANYONE);
        const limit = req.limit || 500;
        if (limit < 1 || limit > 1000) throw invalid('limit', 'must be from 1 to 1000');
        await requireGpu(db, req.gpuId);
        const points = await store.ratingHistory(db, req.gpuId, limit);
        return { points: points.map((p) => ({ at: p.at, averageRating: Number(p.average_rating), totalReviews: p.total_reviews })) };
      },
    },
  };
}
