import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigReader } from '../lib/config';
import { createMemoryBus } from '../lib/events/memoryBus';
import { ensureWritableDir, startEmbeddedPostgres } from '../lib/embeddedPostgres';
import { createLifecycle, type Lifecycle, runMain, stopOnSignals } from '../lib/lifecycle';
import { createLogger, type Logger } from '../lib/logger';
import { ROOT } from '../lib/paths';
import { startTracingFromEnv } from '../lib/tracing';
import { generateKey, parseKeyList } from '../lib/apiKeys';
import { readGatewayConfig, startGateway } from '../gateway/src/main';
import { readAccountsConfig, startAccounts } from '../services/accounts/src/main';
import { readBookingConfig, startBooking } from '../services/booking/src/main';
import { readMarketConfig, startMarket } from '../services/market/src/main';
import { formatMoney } from '../lib/money';
import { readPricingConfig, startPricing } from '../services/pricing/src/main';
import { readRegistryConfig, startRegistry } from '../services/registry/src/main';
import { readReviewsConfig, startReviews } from '../services/reviews/src/main';

/**
 * `npm start`: the whole mesh in one process on one machine. Every service still listens on
 * its own gRPC port and the gateway talks to them over loopback, exactly as when they run
 * apart. Storage is an embedded PostgreSQL under AITBC_DATA_DIR unless DATABASE_URL is set.
 */
/** What `npm start` itself reads from the environment (the parts read theirs from `partsEnv`). */
interface MeshConfig {
  dataDir: string;
  pgPort: number;
  logLevel: string;
  natsUrl?: string;
  databaseUrl?: string;
  apiKeys?: string;
  /** The environment every part reads its own configuration from. */
  partsEnv: NodeJS.ProcessEnv;
}

function readMeshConfig(env: NodeJS.ProcessEnv): MeshConfig {
  const r = new ConfigReader(env);
  const config: MeshConfig = {
    dataDir: path.resolve(r.string('AITBC_DATA_DIR', path.join(ROOT, '.data'))),
    pgPort: r.port('EMBEDDED_PG_PORT', 54329),
    logLevel: r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    natsUrl: r.optionalString('NATS_URL'),
    databaseUrl: r.optionalString('DATABASE_URL'),
    apiKeys: r.optionalString('AITBC_API_KEYS'),
    // The parts read the keys handed to them, not the environment's (which may hold only user
    // keys, and one AITBC_SERVICE_KEY would make every part the same account); reflection is
    // on for development unless GRPC_REFLECTION says otherwise. METRICS_PORT is per process:
    // here every part shares one, and the gateway's /metrics shows them all. npm start's
    // development clients can book at once: an opening balance, unless set otherwise.
    partsEnv: {
      ...env, AITBC_API_KEYS: undefined, AITBC_SERVICE_KEY: undefined, METRICS_PORT: undefined,
      GRPC_REFLECTION: env.GRPC_REFLECTION ?? 'true', AITBC_OPENING_BALANCE: env.AITBC_OPENING_BALANCE ?? DEV_OPENING_BALANCE,
    },
  };
  r.done();
  return config;
}

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const config = readMeshConfig(env);
  const logger = createLogger('mesh', config.logLevel);
  const lifecycle = createLifecycle(logger);
  stopOnSignals(lifecycle, logger);
  // One provider for every part of this process (OTEL_EXPORTER_OTLP_ENDPOINT); flushed last.
  lifecycle.onStop('traces', startTracingFromEnv(env, 'aitbc-mesh'));

  const { dataDir, pgPort, natsUrl } = config;
  ensureWritableDir(dataDir, 'AITBC_DATA_DIR');
  // A part that fails to start (a taken port, say) stops those already started.
  const { registry, pricing, reviews, booking, accounts, market, gateway, keys, source, databaseUrl, openingBalance } = await startParts(lifecycle, logger, config)
    .catch(async (err: unknown) => {
      await lifecycle.stop();
      throw err;
    });
  lifecycle.onStop('done', () => void process.stdout.write('mesh stopped\n'));

  const lines = [
    '',
    `AITBC marketplace mesh is up. Gateway: ${gateway.url}`,
    `  Console: ${gateway.url}/  (sign in with one of the keys below)`,
    `  miner port (public) ${registry.publicAddress}`,
    `  internal gRPC: registry ${registry.address}   booking ${booking.address}   reviews ${reviews.address}   pricing ${pricing.address}   accounts ${accounts.address}   market ${market.address}`,
    `  data: ${databaseUrl.includes('@127.0.0.1:' + pgPort) ? dataDir : 'DATABASE_URL'}`,
    `  events: ${natsUrl ? `NATS ${natsUrl} (tail them: npm run events)` : 'in-process bus (set NATS_URL to use NATS JetStream)'}`,
    `  API keys (${source}):`,
    ...parseKeyList(keys).map((k) => `    ${k.role.padEnd(8)} account=${k.account.padEnd(10)} key=${source === 'AITBC_API_KEYS' ? mask(k.key) : k.key}`),
    `  client accounts seeded here start with ${formatMoney(openingBalance)} AITBC (AITBC_OPENING_BALANCE); see it: curl -H "X-Api-Key: <client key>" ${gateway.url}/v1/accounts/me/balance`,
    `  try: curl -H "X-Api-Key: <key>" ${gateway.url}/v1/marketplace/gpu/list`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Starts PostgreSQL (unless DATABASE_URL), the event bus (unless NATS_URL), the services and
 * the gateway, each registered to stop before everything started earlier.
 */
async function startParts(lifecycle: Lifecycle, logger: Logger, { dataDir, pgPort, natsUrl, apiKeys: listed, partsEnv: env, ...config }: MeshConfig) {
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir, port: pgPort, logger: logger.child({ component: 'postgres' }) });
    databaseUrl = pg.url;
    lifecycle.onStopFirst('postgres', pg.stop);
  }
  // Without NATS_URL every service shares one in-process bus (same guarantees, one process).
  const bus = natsUrl ? undefined : createMemoryBus();
  if (bus) lifecycle.onStopFirst('event bus', () => bus.close());
  const { keys: userKeys, source } = apiKeys(dataDir, listed);
  // Each part calls the others with a service key of its own, made afresh at every start
  // (nothing outside this process needs them) unless AITBC_API_KEYS already names one.
  const own = meshServiceKeys(userKeys);
  const keys = [userKeys, ...Object.entries(own).filter(([, k]) => k.generated).map(([name, k]) => `service:${name}:${k.key}`)].join(',');
  const defaults = (name: string) => ({ databaseUrl, apiKeys: keys, serviceKey: own[name].key });
  const begin = async <T extends { stop(): Promise<void> }>(name: string, start: () => Promise<T>): Promise<T> => {
    const part = await start();
    lifecycle.onStopFirst(name, () => part.stop());
    return part;
  };
  const accountsConfig = readAccountsConfig(env, defaults('accounts'));
  let bookingAddress = '';
  const accounts = await begin('accounts', () => startAccounts(accountsConfig, createLogger('accounts', accountsConfig.logLevel), { bus, bookingAddr: () => bookingAddress }));
  const registryConfig = readRegistryConfig(env, { ...defaults('registry'), accountsAddr: accounts.address });
  const registry = await begin('registry', () => startRegistry(registryConfig, createLogger('registry', registryConfig.logLevel), { bus }));
  const pricingConfig = readPricingConfig(env, defaults('pricing'));
  const pricing = await begin('pricing', () => startPricing(pricingConfig, createLogger('pricing', pricingConfig.logLevel), { bus }));
  const reviewsConfig = readReviewsConfig(env, defaults('reviews'));
  const reviews = await begin('reviews', () => startReviews(reviewsConfig, createLogger('reviews', reviewsConfig.logLevel), { bus }));
  const bookingConfig = readBookingConfig(env, { ...defaults('booking'), registryAddr: registry.address, pricingAddr: pricing.address, accountsAddr: accounts.address });
  const booking = await begin('booking', () => startBooking(bookingConfig, createLogger('booking', bookingConfig.logLevel), { bus }));
  bookingAddress = booking.address;
  const marketConfig = readMarketConfig(env, { ...defaults('market'), bookingAddr: booking.address });
  const market = await begin('market', () => startMarket(marketConfig, createLogger('market', marketConfig.logLevel), { bus }));
  const gatewayConfig = readGatewayConfig(env, {
    registryAddr: registry.address, bookingAddr: booking.address, pricingAddr: pricing.address, reviewsAddr: reviews.address,
    accountsAddr: accounts.address, marketAddr: market.address, apiKeys: keys, serviceKey: own.gateway.key,
  });
  const gateway = await begin('gateway', () => startGateway(gatewayConfig, createLogger('gateway', gatewayConfig.logLevel), { bus }));
  return { registry, pricing, reviews, booking, accounts, market, gateway, keys: userKeys, source, databaseUrl, openingBalance: accountsConfig.openingBalanceMicro };
}

const MESH_PARTS = ['gateway', 'registry', 'booking', 'pricing', 'reviews', 'accounts', 'market'];
/** What npm start's development client accounts may spend (AITBC). */
const DEV_OPENING_BALANCE = '1000';

/** The service key of each part: AITBC_API_KEYS's `service:<part>:KEY` when it has one, else a fresh one. */
function meshServiceKeys(keyList: string): Record<string, { key: string; generated: boolean }> {
  const listed = parseKeyList(keyList);
  return Object.fromEntries(MESH_PARTS.map((name) => {
    const entry = listed.find((e) => e.role === 'service' && e.account === name);
    return [name, entry ? { key: entry.key, generated: false } : { key: generateKey('service'), generated: true }];
  }));
}

/** AITBC_API_KEYS when set; otherwise development keys created once in the data folder. */
function apiKeys(dataDir: string, fromEnv: string | undefined): { keys: string; source: string } {
  if (fromEnv) return { keys: fromEnv, source: 'AITBC_API_KEYS' };
  const file = path.join(dataDir, 'api-keys');
  let keys = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  // A key file from before service keys (or before the 24-character minimum) is made anew.
  if (!usable(keys)) {
    keys = DEV_ACCOUNTS.map((ra) => `${ra}:${generateKey(ra.split(':')[0])}`).join(',');
    writeFileSync(file, `${keys}\n`, { mode: 0o600 });
  }
  return { keys, source: `development keys from ${file}` };
}

function usable(keys: string): boolean {
  try {
    return parseKeyList(keys).some((k) => k.role === 'service');
  } catch {
    return false;
  }
}

/** The accounts of a fresh development key file; the coordinator's key is for integrators calling gRPC. */
const DEV_ACCOUNTS = ['admin:ops', 'provider:provider', 'client:client', 'service:coordinator'];

const mask = (key: string) => `${key.slice(0, 4)}…(${key.length} chars)`;

runMain(() => main(process.env));
