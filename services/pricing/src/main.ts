import { type CommonConfig, type CommonDefaults, ConfigReader, readCommon, type Env } from '../../../lib/config';
import type { EventBus } from '../../../lib/events/bus';
import { createLogger, type Logger } from '../../../lib/logger';
import { serviceMain } from '../../../lib/lifecycle';
import { startService, type RunningService } from '../../../lib/service';
import { pricingMigrations } from '../migrations';
import { createMarketProjection } from './marketProjection';
import { createPriceBook } from './priceBook';
import { createPricingHandlers } from './rpc';
import { pricingStore } from './store';

export interface PricingConfig extends CommonConfig {
  host: string;
  port: number;
  tickMs: number;
  smoothingSeconds: number;
  historyThresholdBp: number;
  historyIntervalSeconds: number;
  historyRetentionDays: number;
}

export function readPricingConfig(env: Env, defaults: CommonDefaults = {}): PricingConfig {
  const r = new ConfigReader(env);
  const config: PricingConfig = {
    ...readCommon(r, 'pricing', defaults),
    host: r.string('PRICING_HOST', '127.0.0.1'),
    port: r.port('PRICING_PORT', 50054),
    tickMs: r.int('PRICING_TICK_MS', 1000, 50, 3_600_000),
    smoothingSeconds: r.int('PRICING_SMOOTHING_SECONDS', 60, 0, 86_400),
    historyThresholdBp: r.int('PRICE_HISTORY_THRESHOLD_BP', 100, 1, 10_000),
    historyIntervalSeconds: r.int('PRICE_HISTORY_INTERVAL_SECONDS', 3600, 1, 86_400 * 7),
    historyRetentionDays: r.int('PRICE_HISTORY_RETENTION_DAYS', 90, 1, 3650),
  };
  r.done();
  return config;
}

/**
 * The pricing service's composition root: the market projection (registry and booking
 * events), the price book (recomputes prices on events and on a timer), handlers and the
 * outbox relay for price.changed.
 */
export function startPricing(
  config: PricingConfig,
  logger: Logger = createLogger('pricing', config.logLevel),
  options: { bus?: EventBus } = {},
): Promise<RunningService> {
  return startService({
    name: 'pricing',
    logger,
    config,
    schema: 'pricing',
    migrations: pricingMigrations,
    protoFiles: ['aitbc/marketplace/v1/pricing.proto'],
    bus: options.bus,
    build: ({ db, bus, outbox }) => {
      const book = createPriceBook({
        db, store: pricingStore, outbox, logger, tickMs: config.tickMs,
        params: {
          smoothingMs: config.smoothingSeconds * 1000,
          historyThresholdBp: config.historyThresholdBp,
          historyIntervalMs: config.historyIntervalSeconds * 1000,
        },
        retentionMs: config.historyRetentionDays * 86_400_000,
      });
      return {
        bindings: [createPricingHandlers({ db, store: pricingStore, book })],
        workers: [book, createMarketProjection({ db, bus, logger, store: pricingStore, changed: book.poke })],
      };
    },
  });
}

if (require.main === module) serviceMain('pricing', (env) => readPricingConfig(env), (config, logger) => startPricing(config, logger));
