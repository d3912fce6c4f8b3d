import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../lib/paths';
import { readGatewayConfig } from '../../gateway/src/main';
import { readRegistryConfig } from '../../services/registry/src/main';
import { readBookingConfig } from '../../services/booking/src/main';
import { readPricingConfig } from '../../services/pricing/src/main';
import { readReviewsConfig } from '../../services/reviews/src/main';
import { readAccountsConfig } from '../../services/accounts/src/main';
import { readMarketConfig } from '../../services/market/src/main';

/** Each app container's config reader: its environment must pass start-up validation. */
const READERS: Record<string, (env: Record<string, string>) => unknown> = {
  registry: (env) => readRegistryConfig(env),
  gateway: (env) => readGatewayConfig(env),
  booking: (env) => readBookingConfig(env),
  pricing: (env) => readPricingConfig(env),
  reviews: (env) => readReviewsConfig(env),
  accounts: (env) => readAccountsConfig(env),
  market: (env) => readMarketConfig(env),
};

describe('docker-compose.yml and Dockerfile', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { build?: string; command?: string[]; environment?: Record<string, string>; depends_on?: unknown; ports?: string[] }>;
  };
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

  it('names only services that exist, each started from a real entry point', () => {
    const apps = Object.entries(compose.services).filter(([, s]) => s.build);
    assert.deepEqual(apps.map(([name]) => name).sort(), Object.keys(READERS).sort());
    for (const [name, service] of apps) {
      const [node, entry] = service.command ?? [];
      assert.equal(node, 'node', name);
      // dist/x.js is compiled from x.ts by `npm run build` (which the Dockerfile runs).
      const source = path.join(ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
      assert.ok(existsSync(source), `${name}: ${entry} has no source ${source}`);
      assert.match(readFileSync(source, 'utf8'), /require\.main === module/, `${name}: ${entry} does not start when run`);
    }
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /COPY --from=build \/app\/proto/);
  });

  it('passes each service an environment its start-up validation accepts', () => {
    for (const [name, read] of Object.entries(READERS)) {
      const env = { ...compose.services[name].environment };
      // Compose substitutes ${VAR:?…} from the caller's environment.
      const given: Record<string, string> = {
        AITBC_API_KEYS: 'admin:ops:compose-test-key-0000000000', AITBC_GATEWAY_KEY: 'compose-gateway-key-0000000000', AITBC_BOOKING_KEY: 'compose-booking-key-0000000000',
        AITBC_REGISTRY_KEY: 'compose-registry-key-000000000', AITBC_ACCOUNTS_KEY: 'compose-accounts-key-000000000', AITBC_MARKET_KEY: 'compose-market-key-0000000000', AITBC_OPENING_BALANCE: '0', PLATFORM_FEE_BP: '0',
      };
      for (const [k, v] of Object.entries(env)) env[k] = String(v).replace(/\$\{(\w+):\?[^}]*\}/g, (_, name: string) => given[name] ?? '').replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, fallback: string) => given[name] ?? fallback);
      assert.doesNotThrow(() => read(env), `${name}`);
    }
  });

  it('publishes only the gateway and the miner port', () => {
    const published = Object.entries(compose.services).filter(([, s]) => s.ports?.length).map(([name, s]) => [name, s.ports]);
    assert.deepEqual(published, [['registry', ['50051:50051']], ['gateway', ['8080:8080']]]);
    assert.equal(compose.services.registry.environment?.MINER_PORT, '50051');
    assert.notEqual(compose.services.registry.environment?.REGISTRY_PORT, '50051');
  });

  it('points the gateway at the registry container and the registry at the postgres container', () => {
    assert.equal(compose.services.gateway.environment?.REGISTRY_ADDR, `registry:${compose.services.registry.environment?.REGISTRY_PORT}`);
    assert.match(compose.services.registry.environment?.DATABASE_URL ?? '', /@postgres:5432\//);
    assert.equal(compose.services.registry.environment?.REGISTRY_HOST, '0.0.0.0');
    assert.equal(compose.services.gateway.environment?.HOST, '0.0.0.0');
    assert.equal(compose.services.gateway.environment?.BOOKING_ADDR, `booking:${compose.services.booking.environment?.BOOKING_PORT}`);
    assert.equal(compose.services.booking.environment?.REGISTRY_ADDR, compose.services.gateway.environment?.REGISTRY_ADDR);
    for (const name of ['booking', 'gateway']) {
      assert.equal(compose.services[name].environment?.PRICING_ADDR, `pricing:${compose.services.pricing.environment?.PRICING_PORT}`, name);
    }
    assert.equal(compose.services.pricing.environment?.PRICING_HOST, '0.0.0.0');
    assert.equal(compose.services.gateway.environment?.REVIEWS_ADDR, `reviews:${compose.services.reviews.environment?.REVIEWS_PORT}`);
    assert.equal(compose.services.reviews.environment?.REVIEWS_HOST, '0.0.0.0');
    for (const name of ['registry', 'booking', 'pricing', 'reviews']) assert.equal(compose.services[name].environment?.NATS_URL, 'nats://nats:4222', name);
  });
});
