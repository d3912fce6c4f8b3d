import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigReader } from '../lib/config';
import { createMemoryBus } from '../lib/events/memoryBus';
import { ensureWritableDir, startEmbeddedPostgres } from '../lib/embeddedPostgres';
import { createLifecycle, type Lifecycle, runMain, stopOnSignals } from '../lib/lifecycle';
import { createLogger, type Logger } from '../lib/logger';
import { ROOT } from '../lib/paths';
import { generateKey, parseKeyList } from '../lib/apiKeys';
import { readGatewayConfig, startGateway } from '../gateway/src/main';
import { readBookingConfig, startBooking } from '../services/booking/src/main';
import { readPricingConfig, startPricing } from '../services/pricing/src/main';
import { readRegistryConfig, startRegistry } from '../services/registry/src/main';
import { readReviewsConfig, startReviews } from '../services/reviews/src/main';

/**
 * `npm start`: the whole mesh in one process on one machine. Every service still listens on
 * its own gRPC port and the gateway talks to them over loopback, exactly as when they run
 * apart. Storage is an embedded PostgreSQL under AITBC_DATA_DIR unless DATABASE_URL is set.
 */
async function main(): Promise<void> {
  const r = new ConfigReader(process.env);
  const dataDir = path.resolve(r.string('AITBC_DATA_DIR', path.join(ROOT, '.data')));
  const pgPort = r.port('EMBEDDED_PG_PORT', 54329);
  const logLevel = r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
  r.done();
  const logger = createLogger('mesh', logLevel);
  const lifecycle = createLifecycle(logger);
  stopOnSignals(lifecycle, logger);

  ensureWritableDir(dataDir, 'AITBC_DATA_DIR');
  const natsUrl = process.env.NATS_URL?.trim();
  // A part that fails to start (a taken port, say) stops those already started.
  const { registry, pricing, reviews, booking, gateway, keys, source, databaseUrl } = await startParts(lifecycle, logger, dataDir, pgPort, natsUrl)
    .catch(async (err: unknown) => {
      await lifecycle.stop();
      throw err;
    });
  lifecycle.onStop('done', () => void process.stdout.write('mesh stopped\n'));

  const lines = [
    '',
    `AITBC marketplace mesh is up. Gateway: ${gateway.url}`,
    `  registry gRPC ${registry.address}   booking gRPC ${booking.address}   reviews gRPC ${reviews.address}   pricing gRPC ${pricing.address}`,
    `  data: ${databaseUrl.includes('@127.0.0.1:' + pgPort) ? dataDir : 'DATABASE_URL'}`,
    `  events: ${natsUrl ? `NATS ${natsUrl} (tail them: npm run events)` : 'in-process bus (set NATS_URL to use NATS JetStream)'}`,
    `  API keys (${source}):`,
    ...parseKeyList(keys).map((k) => `    ${k.role.padEnd(8)} account=${k.account.padEnd(10)} key=${source === 'AITBC_API_KEYS' ? mask(k.key) : k.key}`),
    `  try: curl -H "X-Api-Key: <key>" ${gateway.url}/v1/marketplace/gpu/list`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * Starts PostgreSQL (unless DATABASE_URL), the event bus (unless NATS_URL), the services and
 * the gateway, each registered to stop before everything started earlier.
 */
async function startParts(lifecycle: Lifecycle, logger: Logger, dataDir: string, pgPort: number, natsUrl: string | undefined) {
  let databaseUrl = process.env.DATABASE_URL?.trim();
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir, port: pgPort, logger: logger.child({ component: 'postgres' }) });
    databaseUrl = pg.url;
    lifecycle.onStopFirst('postgres', pg.stop);
  }
  // Without NATS_URL every service shares one in-process bus (same guarantees, one process).
  const bus = natsUrl ? undefined : createMemoryBus();
  if (bus) lifecycle.onStopFirst('event bus', () => bus.close());
  const { keys, source } = apiKeys(dataDir);
  const begin = async <T extends { stop(): Promise<void> }>(name: string, start: () => Promise<T>): Promise<T> => {
    const part = await start();
    lifecycle.onStopFirst(name, () => part.stop());
    return part;
  };
  const registryConfig = readRegistryConfig(process.env, { databaseUrl, apiKeys: keys });
  const registry = await begin('registry', () => startRegistry(registryConfig, createLogger('registry', registryConfig.logLevel), { bus }));
  const pricingConfig = readPricingConfig(process.env, { databaseUrl });
  const pricing = await begin('pricing', () => startPricing(pricingConfig, createLogger('pricing', pricingConfig.logLevel), { bus }));
  const reviewsConfig = readReviewsConfig(process.env, { databaseUrl });
  const reviews = await begin('reviews', () => startReviews(reviewsConfig, createLogger('reviews', reviewsConfig.logLevel), { bus }));
  const bookingConfig = readBookingConfig(process.env, { databaseUrl, registryAddr: registry.address, pricingAddr: pricing.address });
  const booking = await begin('booking', () => startBooking(bookingConfig, createLogger('booking', bookingConfig.logLevel), { bus }));
  const gatewayConfig = readGatewayConfig(process.env, {
    registryAddr: registry.address, bookingAddr: booking.address, pricingAddr: pricing.address, reviewsAddr: reviews.address, apiKeys: keys,
  });
  const gateway = await begin('gateway', () => startGateway(gatewayConfig, createLogger('gateway', gatewayConfig.logLevel)));
  return { registry, pricing, reviews, booking, gateway, keys, source, databaseUrl };
}

/** AITBC_API_KEYS when set; otherwise development keys created once in the data folder. */
function apiKeys(dataDir: string): { keys: string; source: string } {
  const fromEnv = process.env.AITBC_API_KEYS?.trim();
  if (fromEnv) return { keys: fromEnv, source: 'AITBC_API_KEYS' };
  const file = path.join(dataDir, 'api-keys');
  if (!existsSync(file)) {
    const keys = ['admin:ops', 'provider:provider', 'client:client'].map((ra) => `${ra}:${generateKey(ra.split(':')[0])}`);
    writeFileSync(file, `${keys.join(',')}\n`, { mode: 0o600 });
  }
  return { keys: readFileSync(file, 'utf8').trim(), source: `development keys from ${file}` };
}

const mask = (key: string) => `${key.slice(0, 4)}…(${key.length} chars)`;

runMain(main);
