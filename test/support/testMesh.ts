import type { Knex } from '../../lib/db';
import { RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { connect, type ClientHandle } from '../../lib/grpcClient';
import { createLogger } from '../../lib/logger';
import { readGatewayConfig, startGateway, type RunningGateway } from '../../gateway/src/main';
import { readBookingConfig, startBooking } from '../../services/booking/src/main';
import { readPricingConfig, startPricing } from '../../services/pricing/src/main';
import { readReviewsConfig, startReviews } from '../../services/reviews/src/main';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import type { RunningService } from '../../lib/service';
import { deleteStream, NATS_URL, testPrefix } from './events';
import { createTestDatabase, type TestDatabase } from './testDatabase';

/** Keys every end-to-end test may use (role:account:key). */
export const KEYS = {
  admin: 'admin-key-0001',
  provider: 'provider-key-acme',
  provider2: 'provider-key-beta',
  client: 'client-key-alice',
  client2: 'client-key-bob',
};
export const KEY_LIST = [
  `admin:ops:${KEYS.admin}`,
  `provider:acme:${KEYS.provider}`,
  `provider:beta:${KEYS.provider2}`,
  `client:alice:${KEYS.client}`,
  `client:bob:${KEYS.client2}`,
].join(',');

export const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';

export interface TestMesh {
  url: string;
  database: TestDatabase;
  registry: RunningService;
  booking: RunningService;
  /** Absent when the mesh was started without pricing (bookings at listed prices). */
  pricing?: RunningService;
  reviews: RunningService;
  gateway: RunningGateway;
  /** The registry's knex handle, for checking what is stored. */
  db: Knex;
  registryClient: ClientHandle<RegistryServiceClient>;
  stop(): Promise<void>;
}

/**
 * Real services (registry, pricing, reviews, booking) on a fresh database and a real gateway, all on
 * ephemeral ports. `pricing: false` leaves pricing out: bookings are at listed prices;
 * `extraKeys` (role:account:key) are accepted besides KEYS; `bookingEnv` is for the booking
 * service only.
 */
export async function startTestMesh(
  env: Record<string, string> = {},
  options: { pricing?: boolean; extraKeys?: string[]; bookingEnv?: Record<string, string> } = {},
): Promise<TestMesh & { prefix: string }> {
  const keyList = [KEY_LIST, ...(options.extraKeys ?? [])].join(',');
  const database = await createTestDatabase();
  // Real NATS, with a subject prefix (and so a stream) of this mesh's own.
  const prefix = testPrefix();
  const registry = await startRegistry(
    readRegistryConfig({ REGISTRY_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, ...env }, { databaseUrl: database.url, apiKeys: keyList }),
    createLogger('registry', LOG_LEVEL),
  );
  const pricing = options.pricing === false ? undefined : await startPricing(
    readPricingConfig({ PRICING_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, PRICING_TICK_MS: '200', ...env }, { databaseUrl: database.url }),
    createLogger('pricing', LOG_LEVEL),
  );
  const reviews = await startReviews(
    readReviewsConfig({ REVIEWS_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, ...env }, { databaseUrl: database.url }),
    createLogger('reviews', LOG_LEVEL),
  );
  const booking = await startBooking(
    readBookingConfig({ BOOKING_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, ...env, ...options.bookingEnv }, {
      databaseUrl: database.url, registryAddr: registry.address, pricingAddr: pricing?.address ?? 'none',
    }),
    createLogger('booking', LOG_LEVEL),
  );
  const gateway = await startGateway(
    readGatewayConfig({ PORT: '0', ...env }, {
      registryAddr: registry.address, bookingAddr: booking.address, pricingAddr: pricing?.address ?? '127.0.0.1:1',
      reviewsAddr: reviews.address, apiKeys: keyList,
    }),
    createLogger('gateway', LOG_LEVEL),
  );
  const registryClient = connect(RegistryServiceClient, registry.address, 5000);
  return {
    prefix,
    url: gateway.url,
    database,
    registry,
    booking,
    pricing,
    reviews,
    gateway,
    db: registry.db,
    registryClient,
    async stop() {
      registryClient.close();
      await gateway.stop();
      await booking.stop();
      await pricing?.stop();
      await reviews.stop();
      await registry.stop();
      await database.drop();
      await deleteStream(prefix);
    },
  };
}

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small fetch wrapper: JSON in, parsed JSON (or text) out. */
export async function http<T = any>(
  base: string,
  method: string,
  path: string,
  options: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.key !== undefined) headers['X-Api-Key'] = options.key;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['Content-Type'] ??= 'application/json';
  } else if (options.rawBody !== undefined) {
    body = options.rawBody;
  }
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}
