import assert from 'node:assert/strict';
import { readGatewayConfig, type RunningGateway, startGateway } from '../../gateway/src/main';
import { createLogger } from '../../lib/logger';
import { http, KEY_LIST, KEYS, LOG_LEVEL, startTestMesh, type TestMesh } from '../support/testMesh';

/**
 * Two gateways in front of one mesh, sharing their limits through PostgreSQL
 * (RATE_LIMIT_DATABASE_URL): an account gets the configured rate from the fleet, not from
 * each gateway; unknown keys from one address are throttled by the fleet the same way.
 */
describe('rate limits shared by two gateways', function () {
  this.timeout(60_000);
  let mesh: TestMesh;
  const gateways: RunningGateway[] = [];

  const startPair = async (env: Record<string, string>) => {
    const pair: RunningGateway[] = [];
    for (let i = 0; i < 2; i++) {
      pair.push(await startGateway(readGatewayConfig({ PORT: '0', ...env }, {
        registryAddr: mesh.registry.address, bookingAddr: mesh.booking.address, pricingAddr: mesh.pricing!.address,
        reviewsAddr: mesh.reviews.address, accountsAddr: mesh.accounts.address, marketAddr: mesh.market.address, apiKeys: KEY_LIST,
      }), createLogger('gateway', LOG_LEVEL)));
    }
    gateways.push(...pair);
    return pair;
  };

  /** Requests spread evenly over both gateways for `ms`; how many each status got. */
  const spray = async (pair: RunningGateway[], key: string, ms: number, everyMs = 25) => {
    const statuses: number[] = [];
    const end = Date.now() + ms;
    for (let i = 0; Date.now() < end; i++) {
      statuses.push((await http(pair[i % 2].url, 'GET', '/v1/marketplace/gpu/list?limit=1', { key })).status);
      await new Promise((r) => setTimeout(r, everyMs));
    }
    return { ok: statuses.filter((s) => s === 200).length, limited: statuses.filter((s) => s === 429).length, total: statuses.length };
  };

  before(async () => {
    mesh = await startTestMesh();
  });

  after(async () => {
    for (const g of gateways) await g.stop();
    await mesh?.stop();
  });

  it('holds an account to the configured rate across both gateways, where separate gateways allow it twice', async () => {
    const limits = { RATE_LIMIT_PER_SECOND: '5', RATE_LIMIT_BURST: '5' };
    const shared = await startPair({ ...limits, RATE_LIMIT_DATABASE_URL: mesh.database.url });
    const apart = await startPair(limits);
    // About 40 requests a second for 3 s, half through each gateway.
    const together = await spray(shared, KEYS.client, 3000);
    const separately = await spray(apart, KEYS.client2, 3000);
    process.stdout.write(`      5/s per account for 3 s: shared ${JSON.stringify(together)}, per gateway ${JSON.stringify(separately)}\n`);
    // Fixed one-second windows: 3 s touch at most 4 of them, 5 requests each.
    assert.ok(together.ok >= 10 && together.ok <= 20, `shared: ${together.ok} allowed, expected the fleet's 5/s (10 to 20)`);
    assert.ok(separately.ok >= 25, `per gateway: ${separately.ok} allowed, expected about twice the rate`);
    assert.ok(together.limited > 0);
    const stored = await mesh.db.raw("SELECT count(*)::int AS n FROM gateway.rate_limits WHERE key LIKE 'requests:%'");
    assert.ok(stored.rows[0].n >= 1, 'the counters live in PostgreSQL');
  });

  it('throttles unknown keys from one address across both gateways', async () => {
    const shared = await startPair({ RATE_LIMIT_DATABASE_URL: mesh.database.url, AUTH_FAILURE_BURST: '4', AUTH_FAILURES_PER_SECOND: '1' });
    // The client's key is known to the first gateway only: a key the fleet knows is never held
    // back, whichever gateway it comes to (see createKeyThrottle, knownKeys).
    assert.equal((await http(shared[0].url, 'GET', '/v1/marketplace/gpu/list', { key: KEYS.client })).status, 200);
    await new Promise((r) => setTimeout(r, 200)); // its hash is written after the answer
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await http(shared[i % 2].url, 'GET', '/v1/marketplace/gpu/list', { key: `unknown-key-number-${i}-padded-out` })).status);
    const looked = statuses.filter((s) => s === 401).length;
    // A burst of 4 (plus what refills during the run) is looked up by the pair; the rest are refused unseen.
    assert.ok(looked >= 4 && looked <= 6, `unknown keys looked up: ${looked} (${statuses.join(' ')})`);
    assert.equal(statuses.filter((s) => s === 429).length, 12 - looked);
    assert.equal((await http(shared[1].url, 'GET', '/v1/marketplace/gpu/list', { key: KEYS.client })).status, 200, 'a key known to the fleet still works from that address, on the gateway that had not seen it');
  });

  it('keeps answering when the store does not, counting alone, and says so in its metrics', async () => {
    const [gateway] = await startPair({ RATE_LIMIT_DATABASE_URL: mesh.database.url });
    const fallbacks = async () => {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      return Number(/aitbc_rate_limit_fallbacks_total\{service="gateway",limiter="requests"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const before = await fallbacks();
    // Another session holds the table: the store's statements pass their 500 ms deadline.
    const locker = await mesh.db.client.acquireConnection();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE gateway.rate_limits IN ACCESS EXCLUSIVE MODE');
      const res = await http(gateway.url, 'GET', '/v1/marketplace/gpu/list?limit=1', { key: KEYS.client });
      assert.equal(res.status, 200, 'a request is not failed because the store is away');
    } finally {
      await locker.query('ROLLBACK');
      await mesh.db.client.releaseConnection(locker);
    }
    assert.ok((await fallbacks()) > before, 'the fallback is counted');
  });
});
