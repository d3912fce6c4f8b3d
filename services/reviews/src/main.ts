import { type CommonConfig, type CommonDefaults, ConfigReader, readCommon, type Env } from '../../../lib/config';
import type { EventBus } from '../../../lib/events/bus';
import { createLogger, type Logger } from '../../../lib/logger';
import { serviceMain } from '../../../lib/lifecycle';
import { startService, type RunningService } from '../../../lib/service';
import { reviewsMigrations } from '../migrations';
import { createRenterProjection } from './renterProjection';
import { createReviewsHandlers } from './rpc';
import { reviewsStore } from './store';

export interface ReviewsConfig extends CommonConfig {
  host: string;
  port: number;
}

export function readReviewsConfig(env: Env, defaults: CommonDefaults = {}): ReviewsConfig {
  const r = new ConfigReader(env);
  const config: ReviewsConfig = {
    ...readCommon(r, 'reviews', defaults),
    host: r.string('REVIEWS_HOST', '127.0.0.1'),
    port: r.port('REVIEWS_PORT', 50053),
  };
  r.done();
  return config;
}

/**
 * The reviews service's composition root: handlers, the projection of GPUs and renters
 * (who may review what), and the outbox relay for review.* events.
 */
export function startReviews(
  config: ReviewsConfig,
  logger: Logger = createLogger('reviews', config.logLevel),
  options: { bus?: EventBus } = {},
): Promise<RunningService> {
  return startService({
    name: 'reviews',
    logger,
    config,
    schema: 'reviews',
    migrations: reviewsMigrations,
    protoFiles: ['aitbc/marketplace/v1/reviews.proto'],
    bus: options.bus,
    build: ({ db, bus, outbox }) => ({
      bindings: [createReviewsHandlers({ db, store: reviewsStore, outbox })],
      workers: [createRenterProjection({ db, bus, logger, store: reviewsStore })],
    }),
  });
}

if (require.main === module) serviceMain('reviews', (env) => readReviewsConfig(env), (config, logger) => startReviews(config, logger));
