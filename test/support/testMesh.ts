import type { Knex } from '../../lib/db';
import { checkAnswer } from './apiDocument';
import { RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { connect, type ClientHandle } from '../../lib/grpcClient';
import type { ClientAuth } from '../../lib/meshSecurity';
import type { Client } from '@grpc/grpc-js';
import { Role } from '../../lib/caller';
import { createLogger } from '../../lib/logger';
import { readGatewayConfig, startGateway, type RunningGateway } from '../../gateway/src/main';
import { readAccountsConfig, startAccounts } from '../../services/accounts/src/main';
import { readBookingConfig, startBooking } from '../../services/booking/src/main';
import { readMarketConfig, startMarket } from '../../services/market/src/main';
import { readPricingConfig, startPricing } from '../../services/pricing/src/main';
import { readReviewsConfig, startReviews } from '../../services/reviews/src/main';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import type { RunningService } from '../../lib/service';
import { deleteStream, NATS_URL, testPrefix } from './events';
import { createTestDatabase, type TestDatabase } from './testDatabase';

/** Keys every end-to-end test may use (role:account:key). */
export const KEYS = {
  admin: 'admin-key-ops-0001-xxxxxxxx',
  provider: 'provider-key-acme-xxxxxxxx',
  provider2: 'provider-key-beta-xxxxxxxx',
  client: 'client-key-alice-xxxxxxxxx',
  client2: 'client-key-bob-xxxxxxxxxxx',
};
/** Service keys: the gateway and booking (which call other services) and an integrator. */
export const SERVICE_KEYS = {
  gateway: 'service-key-gateway-xxxxxxxx',
  booking: 'service-key-booking-xxxxxxxx',
  registry: 'service-key-registry-xxxxxxx',
  accounts: 'service-key-accounts-xxxxxxx',
  market: 'service-key-market-xxxxxxxxx',
  coordinator: 'service-key-coordinator-xxxx',
};
export const KEY_LIST = [
  `admin:ops:${KEYS.admin}`,
  `provider:acme:${KEYS.provider}`,
  `provider:beta:${KEYS.provider2}`,
  `client:alice:${KEYS.client}`,
  `client:bob:${KEYS.client2}`,
  ...Object.entries(SERVICE_KEYS).map(([account, key]) => `service:${account}:${key}`),
].join(',');

/** How a test calls a service directly: as the coordinator unless told otherwise. */
export const asCaller = (key: string = SERVICE_KEYS.coordinator): ClientAuth => ({ key });

/**
 * A client for tests that name their callers, as the mesh would send them: a call for a
 * user goes with the gateway's key (which may forward users), a call naming a service
 * caller with that service's own key (the coordinator's unless SERVICE_KEYS has it).
 */
export function testClient<C>(Ctor: new (...args: any[]) => C & Client, address: string, deadlineMs = 5000): ClientHandle<C> {
  const asGateway = connect(Ctor, address, deadlineMs, asCaller(SERVICE_KEYS.gateway));
  const asService = new Map<string, ClientHandle<C>>();
  const service = (account: string) => {
    let handle = asService.get(account);
    if (!handle) {
      handle = connect(Ctor, address, deadlineMs, asCaller(SERVICE_KEYS[account as keyof typeof SERVICE_KEYS] ?? SERVICE_KEYS.coordinator));
      asService.set(account, handle);
    }
    return handle;
  };
  const client = new Proxy({} as ClientHandle<C>['client'], {
    get: (_target, key: string) => (request: { caller?: { accountId: string; role: Role } }, options?: { deadlineMs?: number }) => {
      const handle = request?.caller?.role === Role.ROLE_SERVICE ? service(request.caller.accountId) : asGateway;
      return (handle.client as Record<string, (r: unknown, o?: unknown) => Promise<unknown>>)[key](request, options);
    },
  });
  return {
    client,
    raw: asGateway.raw,
    close: () => {
      asGateway.close();
      for (const h of asService.values()) h.close();
    },
  };
}

export const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? 'silent';
/** What each client account of the test mesh starts with (AITBC): enough for every test but the ledger's. */
export const TEST_OPENING_BALANCE = '1000000';

export interface TestMesh {
  url: string;
  database: TestDatabase;
  registry: RunningService;
  booking: RunningService;
  /** Absent when the mesh was started without pricing (bookings at listed prices). */
  pricing?: RunningService;
  reviews: RunningService;
  accounts: RunningService;
  market: RunningService;
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
  options: { pricing?: boolean; extraKeys?: string[]; bookingEnv?: Record<string, string>; logSink?: { write(line: string): void }; logLevel?: string } = {},
): Promise<TestMesh & { prefix: string }> {
  const keyList = [KEY_LIST, ...(options.extraKeys ?? [])].join(',');
  const log = (name: string) => createLogger(name, options.logLevel ?? LOG_LEVEL, options.logSink);
  const database = await createTestDatabase();
  // Real NATS, with a subject prefix (and so a stream) of this mesh's own.
  const prefix = testPrefix();
  let bookingAddress = '';
  const accounts = await startAccounts(
    readAccountsConfig({ ACCOUNTS_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, AITBC_OPENING_BALANCE: TEST_OPENING_BALANCE, ...env }, { databaseUrl: database.url, apiKeys: keyList }),
    log('accounts'), { bookingAddr: () => bookingAddress },
  );
  const registry = await startRegistry(
    readRegistryConfig({ REGISTRY_PORT: '0', MINER_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, ...env }, { databaseUrl: database.url, apiKeys: keyList, accountsAddr: accounts.address }),
    log('registry'),
  );
  const pricing = options.pricing === false ? undefined : await startPricing(
    readPricingConfig({ PRICING_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, PRICING_TICK_MS: '200', ...env }, { databaseUrl: database.url, apiKeys: keyList }),
    log('pricing'),
  );
  const reviews = await startReviews(
    readReviewsConfig({ REVIEWS_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, ...env }, { databaseUrl: database.url, apiKeys: keyList }),
    log('reviews'),
  );
  const booking = await startBooking(
    readBookingConfig({ BOOKING_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, ...env, ...options.bookingEnv }, {
      databaseUrl: database.url, apiKeys: keyList, registryAddr: registry.address, pricingAddr: pricing?.address ?? 'none', accountsAddr: accounts.address,
    }),
    log('booking'),
  );
  bookingAddress = booking.address;
  const market = await startMarket(
    readMarketConfig({ MARKET_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, BID_FILL_LEAD_MS: '1000', BID_MATCH_INTERVAL_MS: '200', ...env },
      { databaseUrl: database.url, apiKeys: keyList, bookingAddr: booking.address }),
    log('market'),
  );
  const gateway = await startGateway(
    readGatewayConfig({ PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, ...env }, {
      registryAddr: registry.address, bookingAddr: booking.address, pricingAddr: pricing?.address ?? '127.0.0.1:1',
      reviewsAddr: reviews.address, accountsAddr: accounts.address, marketAddr: market.address, apiKeys: keyList,
    }),
    log('gateway'),
  );
  const registryClient = testClient(RegistryServiceClient, registry.address);
  return {
    prefix,
    url: gateway.url,
    database,
    registry,
    booking,
    pricing,
    reviews,
    accounts,
    market,
    gateway,
    db: registry.db,
    registryClient,
    async stop() {
      registryClient.close();
      await gateway.stop();
      await market.stop();
      await booking.stop();
      await pricing?.stop();
      await reviews.stop();
      await registry.stop();
      await accounts.stop();
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
  options: { key?: string; body?: unknown; rawBody?: string; headers?: Record<string, string>; unchecked?: boolean } = {},
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
  // Every answer a test receives is checked against the gateway's own document.
  if (!options.unchecked) await checkAnswer(base, method, path, res.status, res.headers.get('content-type') ?? '', parsed);
  return { status: res.status, headers: res.headers, body: parsed as T };
}
