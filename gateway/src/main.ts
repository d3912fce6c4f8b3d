import proxyAddr from '@fastify/proxy-addr';
import type { FastifyInstance } from 'fastify';
import { type ConfigReader, type Env, readConfig, readSubjectPrefix } from '../../lib/config';
import { BookingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/booking';
import { PricingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/pricing';
import { RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { ReviewsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/reviews';
import { connect, healthChannel } from '../../lib/grpcClient';
import { createLifecycle, type Lifecycle, serviceMain } from '../../lib/lifecycle';
import { createLogger, type Logger } from '../../lib/logger';
import { buildGateway } from './app';
import { openDb } from '../../lib/db';
import { knownKeysMigration, postgresKnownKeys } from '../../lib/knownKeys';
import { type LimiterFactory, limitsMigration, postgresLimiters } from '../../lib/limiter';
import { metrics } from '../../lib/metrics';
import { AccountsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import { MarketServiceClient } from '../../lib/gen/aitbc/marketplace/v1/market';
import { accountsKeyDirectory } from '../../lib/keyDirectory';
import { type MeshSecurityConfig, readMeshSecurity } from '../../lib/meshSecurity';
import type { EventBus } from '../../lib/events/bus';
import { connectNatsBus } from '../../lib/events/natsBus';
import type { GpuReplicaOptions } from './gpuReplica';

export interface GatewayConfig {
  host: string;
  port: number;
  logLevel: string;
  registryAddr: string;
  bookingAddr: string;
  pricingAddr: string;
  reviewsAddr: string;
  accountsAddr: string;
  marketAddr: string;
  security: MeshSecurityConfig;
  /** Whose X-Forwarded-For to believe: the proxies' addresses; undefined: nobody's. */
  trustProxy?: string;
  rpcDeadlineMs: number;
  bodyLimitBytes: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** Where the gateways share their rate limits (schema `gateway`); unset: each counts in memory. */
  rateLimitDatabaseUrl?: string;
  shutdownTimeoutMs: number;
  /** Where live events come from (GET /v1/events/gpus); unset and no bus handed over: that route is 503. */
  natsUrl?: string;
  natsPrefix: string;
  /** The GPU list replica (GPU_LIST_REPLICA=off: every list asks the registry). */
  gpuReplica?: GpuReplicaOptions;
}

export function readGatewayConfig(env: Env, defaults: Partial<GatewayConfig> & { apiKeys?: string; serviceKey?: string } = {}): GatewayConfig {
  return readConfig<GatewayConfig>(env, (r) => ({
    host: r.string('HOST', defaults.host ?? '127.0.0.1'),
    port: r.port('PORT', defaults.port ?? 8080),
    logLevel: r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    registryAddr: r.address('REGISTRY_ADDR', defaults.registryAddr ?? '127.0.0.1:50057'),
    bookingAddr: r.address('BOOKING_ADDR', defaults.bookingAddr ?? '127.0.0.1:50052'),
    accountsAddr: r.address('ACCOUNTS_ADDR', defaults.accountsAddr ?? '127.0.0.1:50055'),
    marketAddr: r.address('MARKET_ADDR', defaults.marketAddr ?? '127.0.0.1:50056'),
    pricingAddr: r.address('PRICING_ADDR', defaults.pricingAddr ?? '127.0.0.1:50054'),
    reviewsAddr: r.address('REVIEWS_ADDR', defaults.reviewsAddr ?? '127.0.0.1:50053'),
    security: readMeshSecurity(r, 'gateway', { apiKeys: defaults.apiKeys, serviceKey: defaults.serviceKey, callsOut: true }),
    trustProxy: readTrustProxy(r),
    // Below the CLI's 5 s timeout, so a slow backend becomes a 504 the CLI can show.
    rpcDeadlineMs: r.int('RPC_DEADLINE_MS', 3000, 50, 60_000),
    bodyLimitBytes: r.int('BODY_LIMIT_BYTES', 64 * 1024, 1024, 16 * 1024 * 1024),
    // Per account; far above what a person or an agent needs, low enough to stop a runaway loop.
    rateLimitPerSecond: r.int('RATE_LIMIT_PER_SECOND', 200, 0, 1_000_000),
    rateLimitBurst: r.int('RATE_LIMIT_BURST', 400, 1, 1_000_000),
    // Several gateways: one PostgreSQL counts for all of them, so the rate holds across the fleet.
    rateLimitDatabaseUrl: r.url('RATE_LIMIT_DATABASE_URL', ['postgres:', 'postgresql:']),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    natsUrl: r.url('NATS_URL', ['nats:', 'tls:', 'ws:', 'wss:']),
    natsPrefix: readSubjectPrefix(r),
    gpuReplica: r.oneOf('GPU_LIST_REPLICA', 'on', ['on', 'off']) === 'off' ? undefined : {
      pollMs: r.int('GPU_LIST_REPLICA_POLL_MS', 100, 10, 60_000),
      // 0: every list shows every write committed before it arrived (see gpuReplica.ts).
      maxAgeMs: r.int('GPU_LIST_REPLICA_MAX_AGE_MS', 0, 0, 600_000),
      // About 2 KB each: the default holds up to about 4 GB.
      maxGpus: r.int('GPU_LIST_REPLICA_MAX_GPUS', 2_000_000, 0, 100_000_000),
      // Their JSON alone (a GPU with the longest description allowed is 13 KB of it).
      maxJsonBytes: r.int('GPU_LIST_REPLICA_MAX_MB', 2000, 1, 1_000_000) * 1_000_000,
    },
  }));
}

/**
 * TRUST_PROXY: the addresses (or CIDRs) of the reverse proxies in front, whose
 * X-Forwarded-For entries are believed (`10.0.0.1,10.0.0.0/8`). Never "true": the leftmost
 * entry is whatever the client wrote, and the throttle on unknown keys would take any
 * address it names. (Fastify refuses bare hop counts for the same reason.)
 */
function readTrustProxy(r: ConfigReader): string | undefined {
  const raw = r.optionalString('TRUST_PROXY');
  if (!raw || raw === 'false') return undefined;
  const entries = raw.split(',').map((a) => a.trim());
  const wide = entries.find((a) => {
    const [address, bits] = a.split('/');
    // A range this wide is everyone: "true" by another name.
    return bits !== undefined && Number(bits) < (address.includes(':') ? 16 : 8);
  });
  let valid = entries.every((a) => /^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a) && /[.:]/.test(a));
  try {
    if (valid) proxyAddr.compile(entries);
  } catch {
    valid = false;
  }
  if (!valid || wide) {
    r.problem(`TRUST_PROXY must list the proxies' addresses or CIDRs (10.0.0.1,10.0.0.0/8), not "${raw}": ` +
      `believing any X-Forwarded-For ("true"${wide ? `, or a range as wide as ${wide}` : ''}) lets a client choose its own address`);
  }
  return raw;
}

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** The gateway's composition root: gRPC clients, key store, Fastify app, bound port. */
export async function startGateway(config: GatewayConfig, logger: Logger = createLogger('gateway', config.logLevel), options: { bus?: EventBus } = {}): Promise<RunningGateway> {
  const lifecycle: Lifecycle = createLifecycle(logger);
  // The gateway only listens (core subjects, no durable consumer): npm start hands it the
  // in-process bus, a gateway on its own connects to NATS when NATS_URL is set.
  const ownBus = !options.bus && config.natsUrl
    ? await connectNatsBus({ url: config.natsUrl, prefix: config.natsPrefix, name: 'gateway', logger })
    : undefined;
  const events = options.bus ?? ownBus;
  const { tls, serviceKey } = config.security;
  const auth = { key: serviceKey, tls, from: 'gateway' };
  const registry = connect(RegistryServiceClient, config.registryAddr, config.rpcDeadlineMs, auth);
  const booking = connect(BookingServiceClient, config.bookingAddr, config.rpcDeadlineMs, auth);
  const pricing = connect(PricingServiceClient, config.pricingAddr, config.rpcDeadlineMs, auth);
  const reviews = connect(ReviewsServiceClient, config.reviewsAddr, config.rpcDeadlineMs, auth);
  const accounts = connect(AccountsServiceClient, config.accountsAddr, config.rpcDeadlineMs, auth);
  const market = connect(MarketServiceClient, config.marketAddr, config.rpcDeadlineMs, auth);
  const backends = [
    { name: 'accounts', channel: healthChannel(config.accountsAddr, tls) },
    { name: 'market', channel: healthChannel(config.marketAddr, tls) },
    { name: 'registry', channel: healthChannel(config.registryAddr, tls) },
    { name: 'booking', channel: healthChannel(config.bookingAddr, tls) },
    { name: 'pricing', channel: healthChannel(config.pricingAddr, tls) },
    { name: 'reviews', channel: healthChannel(config.reviewsAddr, tls) },
  ];
  metrics.collectProcessMetrics();
  // Short statements: a slow store must not slow requests (the limiter falls back to memory).
  const limitStore = config.rateLimitDatabaseUrl
    ? await openDb({ url: config.rateLimitDatabaseUrl, schema: 'gateway', migrations: [limitsMigration, knownKeysMigration], poolMax: 5, statementTimeoutMs: 500, logger })
    : undefined;
  const limiters: LimiterFactory | undefined = limitStore && postgresLimiters(limitStore, 'gateway', logger);
  const app = await buildGateway({
    limiters,
    knownKeys: limitStore && postgresKnownKeys(limitStore),
    events,
    registry: registry.client,
    booking: booking.client,
    pricing: pricing.client,
    reviews: reviews.client,
    accounts: accounts.client,
    market: market.client,
    keys: accountsKeyDirectory(accounts.client),
    trustProxy: config.trustProxy,
    failedAuthLimit: config.security.failedAuth,
    logger,
    backends,
    bodyLimitBytes: config.bodyLimitBytes,
    rateLimit: { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst },
    gpuReplica: config.gpuReplica,
  });
  lifecycle.onStop('http', () => app.close());
  if (ownBus) lifecycle.onStop('event bus', () => ownBus.close());
  if (limitStore) lifecycle.onStop('rate limit store', () => limitStore.destroy());
  lifecycle.onStop('grpc clients', () => {
    registry.close();
    booking.close();
    pricing.close();
    reviews.close();
    accounts.close();
    market.close();
    for (const b of backends) b.channel.close();
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  logger.info({ url }, 'gateway listening');
  return { app, url, stop: () => lifecycle.stop() };
}

if (require.main === module) serviceMain('gateway', (env) => readGatewayConfig(env), (config, logger) => startGateway(config, logger));
