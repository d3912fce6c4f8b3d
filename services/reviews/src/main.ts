import { type CommonDefaults, type Env, readCommon, readConfig, readListen, type ServiceConfig } from '../../../lib/config';
import { serviceMain } from '../../../lib/lifecycle';
import { serviceStarter } from '../../../lib/serviceStarter';
import { reviewsMigrations } from '../migrations';
import { createRenterProjection } from './renterProjection';
import { createReviewsHandlers } from './rpc';
import { reviewsStore } from './store';

export type ReviewsConfig = ServiceConfig;

export function readReviewsConfig(env: Env, defaults: CommonDefaults = {}): ReviewsConfig {
  return readConfig<ReviewsConfig>(env, (r) => ({
    ...readCommon(r, 'reviews', defaults),
    ...readListen(r, 'REVIEWS_HOST', 'REVIEWS_PORT', 50053),
  }));
}

/**
 * The reviews service's composition root: handlers, the projection of GPUs and renters
 * (who may review what), and the outbox relay for review.* events.
 */
export const startReviews = serviceStarter<ReviewsConfig>({
  name: 'reviews',
  migrations: reviewsMigrations,
  protoFiles: ['aitbc/marketplace/v1/reviews.proto'],
  build: ({ db, bus, outbox, logger }) => ({
    bindings: [createReviewsHandlers({ db, store: reviewsStore, outbox })],
    workers: [createRenterProjection({ db, bus, logger, store: reviewsStore })],
  }),
});

if (require.main === module) serviceMain('reviews', (env) => readReviewsConfig(env), (config, logger) => startReviews(config, logger));
