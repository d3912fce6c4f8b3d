import type { FastifyInstance } from 'fastify';
import { Role } from '../../../lib/caller';
import { ModerationAction } from '../../../lib/gen/aitbc/marketplace/v1/reviews';
import { singleFlight } from '../../../lib/singleFlight';
import type { GatewayDeps } from '../deps';
import { callerOf } from '../request';
import { reviewJson, summaryJson } from '../reviewJson';
import { idParamsSchema } from '../schemas';
import { answers, pageHeaders, ref } from '../answers';

// Comments are checked by the service (trimmed, at most 2,000 characters); the schema only
// keeps absurd bodies out.
const rating = { type: 'integer', minimum: 1, maximum: 5, description: 'A whole number from 1 to 5' } as const;
const comment = { type: ['string', 'null'], maxLength: 10_000, description: 'At most 2,000 characters after trimming; null for none' } as const;

const reviewParams = {
  type: 'object', required: ['review_id'], properties: { review_id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

const CLIENTS = { roles: ['client'] };

/** Review endpoints: read and write a GPU's reviews, edit your own, moderate (admin). */
export function reviewRoutes(app: FastifyInstance, { reviews }: GatewayDeps): void {
  // A page of reviews is the same for every non-admin caller (admins also see hidden ones):
  // concurrent identical reads share one call and one rendering; nothing is kept after.
  const pageOf = singleFlight(async (q: { admin?: string; gpuId: string; limit: number; cursor: string }) => {
    // Admins' pages (hidden reviews too) are asked for as an admin; others' as the gateway itself.
    const caller = q.admin ? { accountId: q.admin, role: Role.ROLE_ADMIN } : undefined;
    const res = await reviews.listReviews({ caller, gpuId: q.gpuId, limit: q.limit, cursor: q.cursor });
    return { summary: res.summary!, reviews: res.reviews, ownerId: res.gpuOwnerId, nextCursor: res.nextCursor };
  }, (q) => JSON.stringify([Boolean(q.admin), q.gpuId, q.limit, q.cursor]));
  app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string } }>('/v1/marketplace/gpu/:id/reviews', {
    schema: {
      summary: "A GPU's reviews, newest first, with its rating summary (hidden reviews only for admin)",
      params: idParamsSchema,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 }, cursor: { type: 'string', maxLength: 300 } },
      },
      response: answers(200, 'a page of reviews', ref('ReviewPage'), { headers: { 'X-Next-Cursor': pageHeaders['X-Next-Cursor'] } }),
    },
  }, async (request, reply) => {
    const caller = callerOf(request);
    const admin = caller.role === Role.ROLE_ADMIN ? caller.accountId : undefined;
    const page = await pageOf({ admin, gpuId: request.params.id, limit: request.query.limit, cursor: request.query.cursor ?? '' });
    // The page is shared (asked for as the gateway); which booking each review came from is
    // shown to its author, the GPU's owner and admins only.
    const owner = page.ownerId !== '' && page.ownerId === caller.accountId;
    const reviewsJson = page.reviews.map((r) => reviewJson(r, Boolean(admin), Boolean(admin) || owner || r.user === caller.accountId));
    if (page.nextCursor) reply.header('X-Next-Cursor', page.nextCursor);
    return { ...summaryJson(page.summary), reviews: reviewsJson, next_cursor: page.nextCursor || null };
  });

  app.post<{ Params: { id: string }; Body: { rating: number; comment?: string | null } }>('/v1/marketplace/gpu/:id/reviews', {
    schema: {
      summary: 'Review a GPU you booked (once; change it later with PATCH /v1/marketplace/reviews/{review_id})',
      params: idParamsSchema,
      body: { type: 'object', additionalProperties: false, required: ['rating'], properties: { rating, comment }, examples: [{ rating: 5, comment: 'fast and stable' }] },
      response: answers(201, 'reviewed', ref('Review'), { problems: [409] }),
    },
    config: CLIENTS,
  }, async (request, reply) => {
    const { review, summary } = await reviews.addReview({
      caller: callerOf(request), gpuId: request.params.id, rating: request.body.rating, comment: request.body.comment ?? undefined,
    });
    return reply.code(201).send({ ...reviewJson(review!), rating_summary: summaryJson(summary!) });
  });

  app.patch<{ Params: { review_id: string }; Body: { rating?: number; comment?: string | null } }>('/v1/marketplace/reviews/:review_id', {
    schema: {
      summary: 'Change your own review (rating and/or comment; "comment": null removes it)',
      params: reviewParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { rating, comment } },
      response: answers(200, 'changed', ref('Review')),
    },
    config: CLIENTS,
  }, async (request) => {
    const body = request.body;
    const { review, summary } = await reviews.editReview({
      caller: callerOf(request), reviewId: request.params.review_id, rating: body.rating,
      setComment: 'comment' in body, comment: body.comment ?? undefined,
    });
    return { ...reviewJson(review!), rating_summary: summaryJson(summary!) };
  });

  app.post<{ Params: { review_id: string }; Body: { action: 'hide' | 'restore'; reason: string } }>('/v1/marketplace/reviews/:review_id/moderation', {
    schema: {
      summary: 'Admin: hide or restore a review, with a reason (hidden reviews leave the averages)',
      params: reviewParams,
      body: {
        type: 'object', additionalProperties: false, required: ['action', 'reason'],
        properties: { action: { type: 'string', enum: ['hide', 'restore'] }, reason: { type: 'string', maxLength: 2000 } },
      },
      response: answers(200, 'moderated (`changed`: false when it already was so)', ref('Review')),
    },
    config: { roles: ['admin'] },
  }, async (request) => {
    const res = await reviews.moderateReview({
      caller: callerOf(request), reviewId: request.params.review_id, reason: request.body.reason,
      action: request.body.action === 'hide' ? ModerationAction.MODERATION_ACTION_HIDE : ModerationAction.MODERATION_ACTION_RESTORE,
    });
    return { ...reviewJson(res.review!, true), changed: res.changed, rating_summary: summaryJson(res.summary!) };
  });

  app.get<{ Params: { id: string }; Querystring: { limit: number } }>('/v1/marketplace/gpu/:id/rating-history', {
    schema: {
      summary: "A GPU's average rating after each change, oldest first (for charts)",
      params: idParamsSchema,
      querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 500 } } },
      response: answers(200, 'the points', ref('RatingHistory')),
    },
  }, async (request) => {
    const res = await reviews.getRatingHistory({ caller: callerOf(request), gpuId: request.params.id, limit: request.query.limit });
    return {
      gpu_id: request.params.id,
      points: res.points.map((p) => ({ at: p.at?.toISOString(), average_rating: p.averageRating, total_reviews: p.totalReviews })),
    };
  });
}
