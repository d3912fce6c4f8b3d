import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'undici';
import { createLogger } from '../../lib/logger';
import { ROOT } from '../../lib/paths';
import { readGatewayConfig, startGateway, type RunningGateway } from '../../gateway/src/main';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import type { RunningService } from '../../lib/service';
import { deleteStream, NATS_URL, testPrefix, waitFor } from '../support/events';
import { ledgerProblems } from '../support/ledger';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { KEY_LIST, KEYS, LOG_LEVEL } from '../support/testMesh';

const TS = ['--require', require.resolve('tsx/cjs')];

/**
 * The saga under crashes: 500 bookings in flight while the booking service or the accounts
 * service is SIGKILLed and restarted. A hold is placed, then its booking inserted; whatever
 * step a kill interrupts, once the reconciler has run no hold is left without its booking
 * nor a booking without its hold, and nothing is charged or refunded twice.
 */
describe('booking holds when the booking or accounts service is SIGKILLed mid-burst', function () {
  this.timeout(240_000);
  let database: TestDatabase;
  let prefix: string;
  let registry: RunningService;
  let gateway: RunningGateway;
  const children = new Map<string, ChildProcess>();
  const base = 27_000 + Math.floor(Math.random() * 2000);
  const ports = { accounts: base, booking: base + 1 };
  const env = () => ({
    ...process.env, DATABASE_URL: database.url, NATS_URL, NATS_SUBJECT_PREFIX: prefix, AITBC_API_KEYS: KEY_LIST, LOG_LEVEL: 'info',
    ACCOUNTS_PORT: String(ports.accounts), BOOKING_PORT: String(ports.booking), BOOKING_ADDR: `127.0.0.1:${ports.booking}`,
    ACCOUNTS_ADDR: `127.0.0.1:${ports.accounts}`, REGISTRY_ADDR: registry.address, PRICING_ADDR: 'none', AITBC_OPENING_BALANCE: '1000000',
    HOLD_DEADLINE_MS: '2000', HOLD_GRACE_MS: '1000', HOLD_RECONCILE_INTERVAL_MS: '300', EXPIRY_INTERVAL_MS: '100',
  });
  const start = async (name: 'accounts' | 'booking') => {
    const child = spawn(process.execPath, [...TS, `services/${name}/src/main.ts`], { cwd: ROOT, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(name, child); // killed by after() even if it never comes up
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(() => out.includes(`${name} serving`) || child.exitCode !== null, 30_000, `${name} to start`);
    if (child.exitCode !== null) throw new Error(out);
  };
  const kill = (name: string) => {
    children.get(name)?.kill('SIGKILL');
    children.delete(name);
  };

  before(async () => {
    database = await createTestDatabase();
    prefix = testPrefix();
    registry = await startRegistry(readRegistryConfig({ REGISTRY_PORT: '0', MINER_PORT: '0', NATS_URL, NATS_SUBJECT_PREFIX: prefix, HEARTBEAT_TTL_SECONDS: '86400' },
      { databaseUrl: database.url, apiKeys: KEY_LIST, accountsAddr: `127.0.0.1:${ports.accounts}` }), createLogger('registry', LOG_LEVEL));
    await start('accounts');
    await start('booking');
    gateway = await startGateway(readGatewayConfig({ PORT: '0', RATE_LIMIT_PER_SECOND: '0', RPC_DEADLINE_MS: '10000' }, {
      registryAddr: registry.address, bookingAddr: `127.0.0.1:${ports.booking}`, pricingAddr: '127.0.0.1:1', reviewsAddr: '127.0.0.1:1',
      accountsAddr: `127.0.0.1:${ports.accounts}`, apiKeys: KEY_LIST,
    }), createLogger('gateway', LOG_LEVEL));
  });
  after(async () => {
    for (const name of [...children.keys()]) kill(name);
    await gateway?.stop();
    await registry?.stop();
    await deleteStream(prefix);
    await database?.drop();
  });

  for (const victim of ['booking', 'accounts'] as const) {
    it(`keeps holds and bookings in step when ${victim} dies during 500 concurrent bookings`, async () => {
      const dispatcher = new Agent({ connections: 100 });
      const post = async (path: string, key: string, body: unknown) => {
        const res = await request(`${gateway.url}${path}`, {
          method: 'POST', dispatcher, headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(body),
        });
        return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
      };
      const gpus: string[] = [];
      for (let i = 0; i < 500; i += 50) {
        gpus.push(...(await Promise.all(Array.from({ length: 50 }, async (_, j) => (await post('/v1/marketplace/gpu/register', KEYS.provider,
          { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.5, uuid: `GPU-crash-${victim}-${i + j}` } })).body.gpu_id as string))));
      }
      // Counted by bookings made, not holds placed: a hold is one short statement, and a
      // hundred of them can be in before the first of their bookings is.
      const made = async () => Number((await registry.db.raw('SELECT count(*) AS n FROM booking.bookings')).rows[0].n);
      const before = await made();
      const burst = Promise.all(gpus.map((g, i) => post(`/v1/marketplace/gpu/${g}/book`, i % 2 ? KEYS.client : KEYS.client2, { duration_hours: 1 })
        .catch(() => ({ status: 0, body: {} as Record<string, any> }))));
      // Kill it once the burst is under way, bring it back a moment later.
      await waitFor(async () => (await made()) > before + 100, 30_000, 'the burst to be under way');
      kill(victim);
      await new Promise((r) => setTimeout(r, 500));
      await start(victim);
      const answers = await burst;
      const statuses = new Map<number, number>();
      for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
      process.stdout.write(`      (${victim} killed: ${[...statuses].map(([s, n]) => `${n}× ${s || 'no answer'}`).join(', ')})\n`);
      assert.ok((statuses.get(201) ?? 0) > 50, 'bookings went through before the kill');
      const booked = answers.filter((a) => a.status === 201).map((a) => a.body.booking_id as string);
      // A 201 is a booking that exists, with its hold.
      const { rows } = await registry.db.raw('SELECT count(*) AS n FROM booking.bookings WHERE booking_id = ANY(?)', [booked]);
      assert.equal(Number(rows[0].n), booked.length);
      // After the hold deadline, grace and a reconcile: every hold has its booking and the reverse.
      await waitFor(async () => (await ledgerProblems(registry.db)).length === 0, 30_000,
        `holds and bookings to agree (${(await ledgerProblems(registry.db)).slice(0, 3).join('; ')})`);
      const { rows: counts } = await registry.db.raw(`SELECT status, count(*) AS n FROM accounts.holds GROUP BY status`);
      process.stdout.write(`      (holds: ${(counts as { status: string; n: string }[]).map((c) => `${c.n} ${c.status}`).join(', ')})\n`);
      await dispatcher.close();
    });
  }
});
