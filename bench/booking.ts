/**
 * Booking figures, with every service and the gateway as their own processes on the
 * machine's PostgreSQL and NATS (`--core`: registry, booking and gateway only):
 * - bookings per second through the gateway: book + release pairs over many GPUs, from 32
 *   concurrent clients (each on its own GPUs, so every booking succeeds);
 * - beside it, single-row INSERT transactions per second on the same PostgreSQL (a knex
 *   loop at the same concurrency);
 * - expiry lag: 1,000 bookings ending at the same moment, time from end to completion;
 * - the floor: two requests through the gateway to booking that change nothing (409), per
 *   pair, CPU per process;
 * - settlement behind: holds of released bookings not yet settled when the pairs stop, and
 *   the time until they are;
 * - where the work goes, per booking pair and process: CPU ms (in the pairs' window, and
 *   through the consumers' catch-up after it) and write system calls (on this VM each socket
 *   write that wakes another process is the dominant cost); PostgreSQL's transactions and
 *   rows written per pair;
 * - `--one-process`: the same mesh as `npm start` runs it, every part in one process.
 * Prints one JSON line. Usage: npm run bench:booking [-- --seconds 10 --concurrency 32 --core --no-quote --no-ledger --no-reviews --one-process]
 */
import { Agent, request } from 'undici';
import { connectDb } from '../lib/db';
import { waitFor } from '../test/support/events';
import { startBookingMesh } from './bookingMesh';
import { pgWork } from './pgWork';
import { arg, benchFixture, perUnit, withServiceKeys } from './support';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const CONCURRENCY = arg('concurrency', 32);

async function main(): Promise<void> {
  const seconds = arg('seconds', 10);
  const bench = await benchFixture(25_000);
  const { base, database } = bench;
  const keys = { provider: 'bench-provider-key-00000000', client: 'bench-client-key-0000000000', admin: 'bench-admin-key-00000000000' };
  // A client per worker: the clients' balances are rows of their own, as with real users (one
  // client making every booking would measure the lock on one balance row).
  const clientKeys = Array.from({ length: CONCURRENCY }, (_, i) => `bench-client-key-${String(i).padStart(4, '0')}-000000`);
  const userKeys = [`provider:acme:${keys.provider}`, `client:alice:${keys.client}`, `admin:ops:${keys.admin}`,
    ...clientKeys.map((k, i) => `client:bench${i}:${k}`)].join(',');
  // --no-ledger: bookings not paid for (booking without the accounts service's holds), to see what the ledger costs.
  const ledger = !process.argv.includes('--no-ledger');
  const common = { ...bench.common, DB_POOL_MAX: process.env.BENCH_DB_POOL_MAX ?? '10', AITBC_API_KEYS: withServiceKeys(userKeys) };
  const core = process.argv.includes('--core');
  const oneProcess = process.argv.includes('--one-process');
  const dispatcher = new Agent({ connections: CONCURRENCY + 4 });
  try {
    await startBookingMesh(bench, {
      common, core, ledger, oneProcess, quote: !process.argv.includes('--no-quote'), reviews: !process.argv.includes('--no-reviews'),
    });
    const url = `http://127.0.0.1:${base}`;
    // undici's request(), not fetch(): fetch's web streams cost the load generator more CPU
    // than the services it measures.
    const post = async (path: string, key: string, body?: unknown) => {
      const res = await request(`${url}${path}`, {
        method: 'POST', dispatcher, headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.statusCode, body: (await res.body.json()) as Record<string, any> };
    };
    const gpus: string[] = [];
    for (let i = 0; i < CONCURRENCY * 4; i++) {
      const res = await post('/v1/marketplace/gpu/register', keys.provider, { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 1 } });
      gpus.push(res.body.gpu_id);
    }

    // 1. book + release pairs.
    let pairs = 0;
    let failures = 0;
    const until = Date.now() + seconds * 1000;
    const latencies: number[] = [];
    const pgBefore = await pgWork(database.url);
    const cpuBefore = bench.cpu();
    const writesBefore = bench.writes();
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let n = 0; Date.now() < until; n++) {
        const gpuId = gpus[worker + CONCURRENCY * (n % 4)];
        const started = performance.now();
        const booked = await post(`/v1/marketplace/gpu/${gpuId}/book`, clientKeys[worker], { gpu_id: gpuId, duration_hours: 1 });
        latencies.push(performance.now() - started);
        const released = booked.status === 201 ? await post(`/v1/marketplace/gpu/${gpuId}/release`, clientKeys[worker]) : booked;
        if (booked.status === 201 && released.status === 200) pairs++;
        else failures++;
      }
    }));
    latencies.sort((a, b) => a - b);
    const bookingsPerSecond = Math.round(pairs / seconds);
    // Where the CPU went, per booking pair (PostgreSQL: backends alive at both ends).
    const cpuPerPair = perUnit(cpuBefore, bench.cpu(), pairs);
    const writesPerPair = perUnit(writesBefore, bench.writes(), pairs);
    // PostgreSQL's work per pair: transactions (each statement outside one counts as one) and rows written per schema.
    const pgPerPair = perUnit(pgBefore, await pgWork(database.url), pairs);
    // Settlement behind the bookings: holds of released bookings not yet settled when the
    // pairs stop, and how long the accounts service then takes to settle them (its CPU per
    // pair above does not include that catch-up).
    const settlement = ledger ? await settlementBehind(database.url) : undefined;
    // The same through the consumers' catch-up: events still waiting when the pairs stop are
    // work the pairs caused (a mesh whose consumers fall behind otherwise looks cheaper).
    const caughtUp = await quiet(database.url);
    const cpuSettledPerPair = perUnit(cpuBefore, bench.cpu(), pairs);

    // 1a. The floor: two requests through the gateway to booking that change nothing (releasing
    // a GPU the client has not booked: one indexed read, 409), at the same concurrency. No
    // pair of requests through this mesh costs less: the figure to hold the pairs' CPU against.
    let floorPairs = 0;
    const floorCpuBefore = bench.cpu();
    const floorUntil = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
      while (Date.now() < floorUntil) {
        const [a, b] = [await post(`/v1/marketplace/gpu/${gpus[worker]}/release`, clientKeys[worker]), await post(`/v1/marketplace/gpu/${gpus[worker]}/release`, clientKeys[worker])];
        if (a.status === 409 && b.status === 409) floorPairs++;
        else throw new Error(`floor: expected 409, got ${a.status} / ${b.status}`);
      }
    }));
    const floorCpu = perUnit(floorCpuBefore, bench.cpu(), floorPairs);
    const floor = {
      pairs_per_second: Math.round(floorPairs / seconds),
      cpu_ms_per_pair: floorCpu,
      cpu_ms_per_pair_total: Math.round(Object.values(floorCpu).reduce((x, y) => x + y, 0) * 100) / 100,
    };

    // 1b. Ledger transactions: deposits through the gateway (each its own reference), same concurrency.
    let deposits = 0;
    const depositUntil = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, worker) => {
      for (let n = 0; Date.now() < depositUntil; n++) {
        const res = await post('/v1/accounts/alice/deposits', keys.admin, { amount: 1, reference: `bench-${worker}-${n}` });
        if (res.status === 201) deposits++;
      }
    }));
    const depositsPerSecond = Math.round(deposits / seconds);

    // 2. Raw single-row INSERT transactions on the same PostgreSQL, same concurrency.
    const raw = connectDb({ url: database.url, schema: 'public', poolMax: CONCURRENCY });
    await raw.raw('CREATE TABLE bench_rows (id bigserial PRIMARY KEY, gpu_id text NOT NULL, client_id text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())');
    let inserts = 0;
    const rawWritesBefore = bench.writes();
    const rawCpuBefore = bench.cpu();
    const rawUntil = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < rawUntil) {
        await raw.transaction((trx) => trx('bench_rows').insert({ gpu_id: 'gpu_x', client_id: 'alice' }));
        inserts++;
      }
    }));
    const rawWritesPerInsert = perUnit(rawWritesBefore, bench.writes(), inserts).load_generator;
    const { postgres, load_generator } = perUnit(rawCpuBefore, bench.cpu(), inserts, 3);
    const rawCpuPerInsert = { postgres, load_generator };
    await raw.destroy();
    const insertsPerSecond = Math.round(inserts / seconds);

    // 3. Expiry lag: 1,000 bookings (on 1,000 GPUs) all ending at one moment.
    const db = connectDb({ url: database.url, schema: 'booking' });
    const endAt = new Date(Date.now() + 3000);
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      booking_id: `bkg_bench${String(i).padStart(15, '0')}`, order_id: `ord_bench${String(i).padStart(15, '0')}`,
      gpu_id: `gpu_bench${i}`, gpu_model: 'RTX 4090', miner_id: 'rig', owner_id: 'acme', client_id: 'alice', status: 'active',
      start_time: new Date(Date.now() - 60_000), end_time: endAt, duration_seconds: 63, price_per_hour_micro: 1_000_000,
      listed_price_micro: 1_000_000, multiplier: 1, price_source: 'listed_price', total_cost_micro: 17_500,
    }));
    for (let i = 0; i < rows.length; i += 250) await db('bookings').insert(rows.slice(i, i + 250));
    await waitFor(async () => Number((await db('bookings').where('booking_id', 'like', 'bkg_bench%').where({ status: 'completed' }).count({ n: '*' }))[0].n) === 1000, 30_000, 'expiry');
    // Lag: from a booking's end to the commit that ended it (its booking.ended outbox row).
    const { rows: lagRows } = await db.raw(`SELECT extract(epoch from (o.created_at - b.end_time)) * 1000 AS lag
      FROM bookings b JOIN outbox o ON o.aggregate_id = b.booking_id AND o.type = 'booking.ended' WHERE b.booking_id LIKE 'bkg_bench%'`);
    const lags = (lagRows as { lag: string }[]).map((r) => Number(r.lag)).sort((a, b) => a - b);
    await db.destroy();

    process.stdout.write(`${JSON.stringify({
      bench: 'booking', mesh: core ? 'core (registry, booking, gateway)' : oneProcess ? 'full, one process' : 'full', ledger, concurrency: CONCURRENCY, seconds,
      ledger_deposits_per_second: depositsPerSecond,
      gateway: { bookings_per_second: bookingsPerSecond, book_p50_ms: Math.round(percentile(latencies, 50)), book_p99_ms: Math.round(percentile(latencies, 99)), failures },
      cpu_ms_per_booking: cpuPerPair,
      cpu_ms_per_booking_caught_up: { ...cpuSettledPerPair, catch_up_ms: caughtUp },
      cpu_ms_per_booking_caught_up_total: Math.round(Object.values(cpuSettledPerPair).reduce((a, b) => a + b, 0) * 100) / 100,
      ...(settlement ? { settlement } : {}),
      floor_two_refused_releases: floor,
      write_syscalls_per_booking: writesPerPair,
      postgres_per_booking: pgPerPair,
      raw_insert_transactions_per_second: insertsPerSecond,
      raw_insert_write_syscalls_per_transaction: rawWritesPerInsert,
      raw_insert_cpu_ms_per_transaction: rawCpuPerInsert,
      bookings_vs_raw: Math.round((bookingsPerSecond / insertsPerSecond) * 1000) / 1000,
      expiry_lag_ms: { bookings: lags.length, p50: Math.round(percentile(lags, 50)), p99: Math.round(percentile(lags, 99)), max: Math.round(lags[lags.length - 1]) },
      cpu_ms_per_booking_total: Math.round(Object.values(cpuPerPair).reduce((a, b) => a + b, 0) * 100) / 100,
      targets: { bookings_vs_raw_min: 0.08, cpu_ms_per_booking_total_max: 3.7, book_p99_ms_max: 100, expiry_lag_p99_ms_max: 1000 },
    })}\n`);
  } finally {
    await dispatcher.close();
    await bench.close();
  }
}

/**
 * Waits until every consumer has caught up: no outbox row waits to be published and no inbox
 * grew over the last 250 ms (prices tick and keep writing, so written rows never settle);
 * how long that took.
 */
async function quiet(url: string): Promise<number> {
  const db = connectDb({ url, schema: 'public', poolMax: 1 });
  try {
    const started = performance.now();
    const { rows: tables } = await db.raw("SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_name IN ('inbox', 'outbox')");
    const q = (tables as { s: string; t: string }[]).map(({ s, t }) => (t === 'inbox'
      ? `SELECT count(*) AS taken, 0 AS waiting FROM "${s}".inbox`
      : `SELECT 0 AS taken, count(*) FILTER (WHERE published_at IS NULL) AS waiting FROM "${s}".outbox`)).join(' UNION ALL ');
    const reading = async () => {
      const { rows } = await db.raw(`SELECT sum(taken)::bigint AS taken, sum(waiting)::bigint AS waiting FROM (${q}) r`);
      return { taken: Number(rows[0].taken), waiting: Number(rows[0].waiting) };
    };
    for (let last = await reading(); ;) {
      await new Promise((r) => setTimeout(r, 250));
      const now = await reading();
      if (!now.waiting && now.taken === last.taken) return Math.round(performance.now() - started - 250);
      last = now;
    }
  } finally {
    await db.destroy();
  }
}

/** Holds still live right after the last release (released bookings not yet settled), and the time until none is. */
async function settlementBehind(url: string): Promise<{ holds_unsettled_at_end: number; catch_up_ms: number }> {
  const db = connectDb({ url, schema: 'accounts' });
  try {
    const started = performance.now();
    const live = async () => Number((await db('holds').whereIn('status', ['pending', 'confirmed']).count({ n: '*' }))[0].n);
    const atEnd = await live();
    await waitFor(async () => (await live()) === 0, 120_000, 'settlement');
    return { holds_unsettled_at_end: atEnd, catch_up_ms: Math.round(performance.now() - started) };
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
