import { type CommonDefaults, type Env, readCommon, readConfig, readListen, type ServiceConfig } from '../../../lib/config';
import { BookingServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { type ClientHandle, connect } from '../../../lib/grpcClient';
import { serviceMain } from '../../../lib/lifecycle';
import { createPeriodic } from '../../../lib/periodic';
import { serviceStarter, type StartOptions } from '../../../lib/serviceStarter';
import { marketMigrations } from '../migrations';
import { bidStore } from './bidStore';
import { createMarketProjection } from './marketProjection';
import { marketStore } from './marketStore';
import { createMatcher } from './matcher';
import { createRenter } from './renter';
import { createMarketHandlers } from './rpc';

export interface MarketConfig extends ServiceConfig {
  bookingAddr: string;
  /** A bid's bookings start this long after it is filled. */
  fillLeadMs: number;
  matchIntervalMs: number;
  /** Pending bids claimed per transaction of a matching pass. */
  matchBatch: number;
}

export function readMarketConfig(env: Env, defaults: CommonDefaults & { bookingAddr?: string } = {}): MarketConfig {
  return readConfig<MarketConfig>(env, (r) => ({
    ...readCommon(r, 'market', defaults, true),
    ...readListen(r, 'MARKET_HOST', 'MARKET_PORT', 50056),
    bookingAddr: r.address('BOOKING_ADDR', defaults.bookingAddr ?? '127.0.0.1:50052'),
    fillLeadMs: r.int('BID_FILL_LEAD_MS', 3000, 100, 60_000),
    matchIntervalMs: r.int('BID_MATCH_INTERVAL_MS', 1000, 50, 60_000),
    matchBatch: r.int('BID_MATCH_BATCH', 500, 1, 10_000),
  }));
}

/**
 * The market's composition root: its view of GPUs and bookings (events), bids and the
 * matcher that fills them, renting by requirements, the market's figures.
 */
export const startMarket = serviceStarter<MarketConfig, StartOptions & { bookingAddr?: () => string }>({
  name: 'market',
  migrations: marketMigrations,
  protoFiles: ['aitbc/marketplace/v1/market.proto'],
  build: ({ db, bus, logger }, config, options) => {
    let booking: ClientHandle<BookingServiceClient> | undefined;
    // Connected when first needed (in one process the booking service may start later).
    const bookingClient = () => (booking ??= connect(BookingServiceClient, options.bookingAddr?.() ?? config.bookingAddr, 5000,
      { key: config.security.serviceKey, tls: config.security.tls, from: 'market' }));
    const lazyBooking = new Proxy({} as ClientHandle<BookingServiceClient>['client'], { get: (_t, key) => (bookingClient().client as never)[key] });
    const matcher = createMatcher({ db, bids: bidStore, market: marketStore, booking: lazyBooking, logger, leadMs: config.fillLeadMs, intervalMs: config.matchIntervalMs, batch: config.matchBatch });
    return {
      bindings: [createMarketHandlers({ db, bids: bidStore, market: marketStore, rent: createRenter({ db, market: marketStore, booking: lazyBooking }), poke: matcher.poke })],
      workers: [
        createMarketProjection({ db, bus, logger, store: marketStore, changed: matcher.poke }),
        matcher,
        createPeriodic('market-prune', 3600_000, logger, () => marketStore.prune(db)),
      ],
      afterStop: () => booking?.close(),
    };
  },
});

if (require.main === module) serviceMain('market', (env) => readMarketConfig(env), (config, logger) => startMarket(config, logger));
