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
