import type { Knex } from '../../../lib/db';
import type { EventBus } from '../../../lib/events/bus';
import { decodePayload } from '../../../lib/events/envelope';
import { createInboxConsumer } from '../../../lib/events/inboxConsumer';
import type { ReviewAdded } from '../../../lib/gen/aitbc/marketplace/v1/events';
import type { Logger } from '../../../lib/logger';
import type { RegistryStore } from './store';

/**
 * Keeps each GPU's `average_rating` and `total_reviews` from review events (added, edited,
 * moderated), which all carry the GPU's new summary with a version: the newest one wins, so
 * lists can filter (`min_rating`) and sort by rating without asking the reviews service.
 */
export function createRatingProjection(deps: { db: Knex; bus: EventBus; store: RegistryStore; logger: Logger }) {
  return createInboxConsumer({
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    durable: 'registry-ratings',
    types: ['review.>'],
    async apply(trx, delivery) {
      // Every review event has the same first two fields (review, summary).
      const { summary } = decodePayload(delivery.envelope) as ReviewAdded;
      if (!summary) return;
      await deps.store.setRating(trx, summary.gpuId, { average: summary.averageRating, total: summary.totalReviews, version: summary.version });
    },
  });
}
