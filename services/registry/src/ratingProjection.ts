import type { Knex } from '../../../lib/db';
import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { RatingSummary } from '../../../lib/gen/aitbc/marketplace/v1/reviews';
import type { ProjectionStore } from './projectionStore';

/**
 * Keeps each GPU's `average_rating` and `total_reviews` from review events (added, edited,
 * moderated), which all carry the GPU's new summary with a version: the newest one wins, so
 * lists can filter (`min_rating`) and sort by rating without asking the reviews service.
 */
export function createRatingProjection(deps: ConsumerDeps & { store: ProjectionStore }) {
  const apply = (db: Knex, { summary }: { summary?: RatingSummary }) =>
    summary && { query: deps.store.setRating(db, summary.gpuId, { average: summary.averageRating, total: summary.totalReviews, version: summary.version }) };
  return consume(deps, {
    durable: 'registry-ratings',
    inOneStatement: { 'review.added': apply, 'review.edited': apply, 'review.moderated': apply },
  });
}
