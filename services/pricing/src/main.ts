import { type CommonDefaults, type Env, readCommon, readConfig, readListen, type ServiceConfig } from '../../../lib/config';
import { serviceMain } from '../../../lib/lifecycle';
import { serviceStarter } from '../../../lib/serviceStarter';
import { pricingMigrations } from '../migrations';
import { createMarketProjection } from './marketProjection';
import { createPriceBook } from './priceBook';
import { createPricingHandlers } from './rpc';
import { pricingStore } from './store';

export interface PricingConfig extends ServiceConfig {
  tickMs: number;
  smoothingSeconds: number;
  historyThresholdBp: number;
  historyIntervalSeconds: number;
  historyRetentionDays: number;
}

export function readPricingConfig(env: Env, defaults: CommonDefaults = {}): PricingConfig {
  return readConfig<PricingConfig>(env, (r) => ({
    ...readCommon(r, 'pricing', defaults),
    ...readListen(r, 'PRICING_HOST', 'PRICING_PORT', 50054),
    tickMs: r.int('PRICING_TICK_MS', 1000, 50, 3_600_000),
    smoothingSeconds: r.int('PRICING_SMOOTHING_SECONDS', 60, 0, 86_400),
    historyThresholdBp: r.int('PRICE_HISTORY_THRESHOLD_BP', 100, 1, 10_000),
    historyIntervalSeconds: r.int('PRICE_HISTORY_INTERVAL_SECONDS', 3600, 1, 86_400 * 7),
    historyRetentionDays: r.int('PRICE_HISTORY_RETENTION_DAYS', 90, 1, 3650),
  }));
}

/**
 * The pricing service's composition root: the market projection (registry and booking
 * events), the price book (recomputes prices on events and on a timer), handlers and the
 * outbox relay for price.changed.
 */
export const startPricing = serviceStarter<PricingConfig>({
  name: 'pricing',
  migrations: pricingMigrations,
  protoFiles: ['aitbc/marketplace/v1/pricing.proto'],
  build: ({ db, bus, outbox, logger }, config) => {
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

if (require.main === module) serviceMain('pricing', (env) => readPricingConfig(env), (config, logger) => startPricing(config, logger));
