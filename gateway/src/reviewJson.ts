import { bool, int, named, num, object, ref, str, strOrNull, time } from './answers';
import type { RatingSummary, Review } from '../../lib/gen/aitbc/marketplace/v1/reviews';

/**
 * A review as CONTRACT.md shows it; moderation fields only when the caller sees them
 * (admin); `booking_id` is null unless the service gave it (to the author, the GPU's owner,
 * admins) and `showBooking` allows it.
 */
export function reviewJson(r: Review, admin = false, showBooking = true) {
  return {
    review_id: r.reviewId,
    gpu_id: r.gpuId,
    booking_id: (showBooking && r.bookingId) || null,
    user: r.user,
    rating: r.rating,
    comment: r.comment ?? null,
    created_at: r.createdAt?.toISOString(),
    updated_at: r.updatedAt?.toISOString(),
    ...(admin ? { hidden: r.hidden, moderation_reason: r.moderationReason || null } : {}),
  };
}

/** A GPU's rating summary: average, count and the histogram keyed "1".."5". */
export function summaryJson(s: RatingSummary) {
  return {
    gpu_id: s.gpuId,
    average_rating: s.averageRating,
    total_reviews: s.totalReviews,
    rating_histogram: Object.fromEntries([1, 2, 3, 4, 5].map((r) => [String(r), s.histogram[r - 1] ?? 0])),
  };
}

const reviewProperties = {
  review_id: str, gpu_id: str, booking_id: strOrNull, user: str, rating: int, comment: strOrNull, created_at: time, updated_at: time,
  // Admin only.
  hidden: bool, moderation_reason: strOrNull,
};
const reviewOptional = ['created_at', 'updated_at', 'hidden', 'moderation_reason'];
const summaryProperties = {
  gpu_id: str, average_rating: num, total_reviews: int,
  rating_histogram: object({ 1: int, 2: int, 3: int, 4: int, 5: int }, [], { description: 'reviews per star, "1" to "5"' }),
};

export const ratingSummarySchema = named('RatingSummary', "A GPU's average rating, count and histogram (visible reviews)", object(summaryProperties));
export const reviewSchema = named('Review', 'A review, with the rating summary after it', object({
  ...reviewProperties, changed: bool, rating_summary: ref('RatingSummary'),
}, [...reviewOptional, 'changed']), {
  review_id: 'rev_3k5m7n9p1q3r5s7t9v1w', gpu_id: 'gpu_8c1k2m3n4p5q6r7s8t9v', booking_id: 'bkg_2h4j6k8m0n2p4q6r8s0t', user: 'alice', rating: 5,
  comment: 'fast and stable', created_at: '2026-12-03T11:00:00.000Z', updated_at: '2026-12-03T11:00:00.000Z',
  rating_summary: { gpu_id: 'gpu_8c1k2m3n4p5q6r7s8t9v', average_rating: 4.5, total_reviews: 2, rating_histogram: { 1: 0, 2: 0, 3: 0, 4: 1, 5: 1 } },
});
export const reviewPageSchema = named('ReviewPage', "A page of a GPU's reviews, newest first, with its rating summary", object({
  ...summaryProperties, reviews: { type: 'array', items: object(reviewProperties, reviewOptional) }, next_cursor: strOrNull,
}));
export const ratingHistorySchema = named('RatingHistory', "A GPU's average rating after each change, oldest first", object({
  gpu_id: str, points: { type: 'array', items: object({ at: time, average_rating: num, total_reviews: int }, ['at']) },
}));
