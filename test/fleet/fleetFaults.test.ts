import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateKey } from '../../lib/apiKeys';
import { type Fleet, startFleet } from '../../bin/fleetProcesses';
import { deleteStream, NATS_URL } from '../support/events';
import { FleetDatabase } from '../support/fleetChecks';
import { startLoad } from '../support/fleetLoad';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/**
 * The fleet under faults: two processes of every service and two gateways on real
 * PostgreSQL and NATS, loaded through both gateways while one process of each is SIGKILLed
 * and started again. Afterwards the stored state must be as if nothing had happened.
 */
describe('fleet under faults (two of everything, one of each killed under load)', function () {
  this.timeout(300_000);
  let database: TestDatabase;
  let fleet: Fleet;
  let db: FleetDatabase;
  const prefix = `fleet${randomBytes(3).toString('hex')}`;
  const keys = { admin: generateKey('admin'), provider: generateKey('provider'), client: generateKey('client') };
  const logDir = mkdtempSync(path.join(os.tmpdir(), 'aitbc-fleet-'));

  before(async () => {
    database = await createTestDatabase();
    fleet = await startFleet({
      databaseUrl: database.url, natsUrl: NATS_URL, natsPrefix: prefix, replicas: 2, gateways: 2, logDir,
      // Below Linux's ephemeral range (32768+), where outgoing connections take their ports.
      basePort: 10_000 + Math.floor(Math.random() * 200) * 100,
      userKeys: `admin:ops:${keys.admin},provider:prov:${keys.provider},client:alice:${keys.client}`,
      env: { LOG_LEVEL: 'warn', HEARTBEAT_TTL_SECONDS: '4', AITBC_OPENING_BALANCE: '1000000', RATE_LIMIT_PER_SECOND: '1000', RATE_LIMIT_BURST: '2000', BID_FILL_LEAD_MS: '500' },
    });
    db = await FleetDatabase.open(database.url);
  });

  after(async () => {
    await db?.close();
    await fleet?.stop();
    await deleteStream(prefix).catch(() => undefined);
    await database?.drop();
  });

  it('keeps every booking, event, ledger entry and periodic job exactly once', async () => {
    const [g1, g2] = fleet.gatewayUrls;
    const post = async (url: string, key: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      const text = await res.text();
      assert.ok(res.status < 300, `${url} answered ${res.status}: ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const gpuIds: string[] = [];
    for (let i = 0; i < 8; i++) {
      const made = await post(`${i % 2 ? g2 : g1}/v1/marketplace/gpu/register`, keys.provider, { gpu: { model: 'RTX 4090', memory_gb: 24, price_per_hour: 2 } }, { 'x-miner-id': 'rig-a' });
      gpuIds.push(String(made.gpu_id));
    }
    // A second rig heartbeats once, then falls silent: the offline sweep must turn it off once.
    const silent = String((await post(`${g1}/v1/marketplace/gpu/register`, keys.provider, { gpu: { model: 'RTX 4090', memory_gb: 24, price_per_hour: 2 } }, { 'x-miner-id': 'rig-b' })).gpu_id);
    await post(`${g2}/v1/miners/heartbeat`, keys.provider, {}, { 'x-miner-id': 'rig-b' });

    const load = startLoad({ gateways: fleet.gatewayUrls, clientKey: keys.client, providerKey: keys.provider, gpuIds, minerId: 'rig-a' }, { clients: 4, bidEveryMs: 1500 });
    const killed: string[] = [];
    try {
      await sleep(3000);
      // One process of each service, and a gateway, SIGKILLed in turn while the load runs.
      for (const service of ['booking', 'registry', 'accounts', 'pricing', 'market', 'reviews', 'gateway']) {
        const victim = fleet.processes.find((p) => p.service === service && p.replica === 0)!;
        victim.child().kill('SIGKILL');
        killed.push(victim.name);
        await sleep(300);
        await until(`${victim.name} to serve again`, 60_000, async () => (await victim.waitServing().then(() => true, () => false)) && victim.restarts > 0);
        await sleep(1000);
      }
      await sleep(3000);
    } finally {
      await load.stop();
    }
    const { counts } = load;
    assert.ok(counts.acknowledged.size >= 20, `the load made ${counts.acknowledged.size} bookings; too few to prove anything`);

    // Let bookings end (expiry), bids fill, events drain.
    await until('every booking to end', 60_000, async () => (await db.count("SELECT count(*) AS n FROM booking.bookings WHERE status = 'active'")) === 0);
    await until('every outbox to drain', 30_000, async () => (await db.unpublished()) === 0);
    const inboxes = await until('every consumer to apply every event', 30_000, async () => {
      const rows = await db.missingFromInboxes();
      return rows.every((r) => r.missing === 0) && rows;
    });

    const stored = await db.rows<{ booking_id: string }>("SELECT booking_id FROM booking.bookings WHERE job_id = ''");
    const acked = new Set(counts.acknowledged.values());
    const missing = [...acked].filter((id) => !stored.some((r) => r.booking_id === id));
    const endings = await db.endings();
    const ledger = await db.ledger();
    const prices = await db.priceChainBreaks();
    const offline = await db.count(`SELECT count(*) AS n FROM registry.outbox WHERE type = 'gpu.status_changed' AND aggregate_id = $1`, [silent]);
    const bidBookings = await db.rows<{ job_id: string; n: string }>("SELECT job_id, count(*) AS n FROM booking.bookings WHERE job_id <> '' GROUP BY job_id");
    const filled = await db.count("SELECT count(*) AS n FROM market.bids WHERE status = 'accepted'");
    const bidOutcomes = await db.rows("SELECT status, reason, count(*)::int AS n FROM market.bids GROUP BY 1, 2");
    const figures = {
      killed, restarts: fleet.processes.reduce((n, p) => n + p.restarts, 0),
      book_requests: counts.bookRequests, acknowledged: acked.size, stored_client_bookings: stored.length, conflicts: counts.conflicts,
      retries_after_faults: counts.retries, released: counts.released, expired: endings.expired, bids: counts.bids.length, bids_filled: filled,
      bid_bookings: bidBookings.length, bid_outcomes: bidOutcomes, heartbeats: counts.heartbeats, failed_heartbeats: counts.failedHeartbeats,
      events_applied: inboxes.reduce((n, r) => n + r.applied, 0), consumers_by_type: inboxes.length,
      ledger_transactions: ledger.transactions, journal_total_micro: ledger.total, price_moves: prices.moves,
    };
    process.stdout.write(`      fleet figures: ${JSON.stringify(figures)}\n`);

    assert.deepEqual(missing, [], 'every acknowledged booking is stored');
    assert.equal(stored.length, acked.size, 'no booking exists that was not acknowledged (retries made none twice)');
    assert.deepEqual(await db.overlaps(), [], 'no two bookings of one GPU overlap');
    assert.equal(endings.endedTwice, 0, 'no booking ended twice (expiry once, release once)');
    assert.equal(endings.endedUnannounced, 0, 'every ended booking was announced');
    assert.equal(await db.deadLetters(), 0, 'no event was given up on');
    assert.equal(ledger.total, 0, 'the journal sums to zero');
    assert.equal(ledger.unbalancedTx, 0, 'every ledger transaction sums to zero');
    assert.equal(ledger.balancesOff, 0, 'every balance is the sum of its entries');
    assert.equal(prices.breaks, 0, 'each price move starts where the last ended (one tick at a time)');
    assert.equal(offline, 1, 'the silent GPU was turned offline exactly once');
    assert.ok(bidBookings.every((b) => Number(b.n) === 1), 'each bid slot was booked once');
    assert.ok(filled >= 1, 'bids filled during the faults');
  });
});
