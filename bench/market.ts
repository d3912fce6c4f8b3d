/**
 * The market's fills (every service in this process on real PostgreSQL and NATS, through the
 * gateway), each figure beside a baseline measured in the same run:
 *
 * - fill latency: with 1,000 bids waiting, a GPU is freed (its booking released) and the time
 *   until the bid it fills is `accepted` is measured, one GPU after another. Baseline: the
 *   same release followed at once by a person's own booking of the GPU (release + book).
 * - fills per second: 1,000 GPUs freed at once under 1,000 waiting bids, until every bid is
 *   accepted. Baseline: 1,000 bookings of those GPUs made one after another straight to the
 *   booking service (the matcher books one slot at a time, so that is its ceiling).
 *
 * Prints one JSON line. Usage: npm run bench:market [-- --samples 50 --gpus 1000]
 */
import { Role } from '../lib/caller';
import { BookingServiceClient } from '../lib/gen/aitbc/marketplace/v1/booking';
import { http, KEYS, startTestMesh, testClient, type TestMesh } from '../test/support/testMesh';
import { arg } from './support';

const BIDDERS = Array.from({ length: 20 }, (_, i) => ({ account: `mb${i}`, key: `market-bench-key-${String(i).padStart(8, '0')}` }));
const WAITING = 1000;
const step = (text: string) => process.stderr.write(`market bench: ${text}\n`);

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))].toFixed(1));
};

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

async function main(): Promise<void> {
  const samples = arg('samples', 50);
  const gpuCount = arg('gpus', 1000);
  const mesh = await startTestMesh({ RATE_LIMIT_PER_SECOND: '0', HEARTBEAT_TTL_SECONDS: '3600', BID_FILL_LEAD_MS: '1000', BID_MATCH_INTERVAL_MS: '1000', LOG_LEVEL: 'warn' },
    { pricing: false, extraKeys: BIDDERS.map((b) => `client:${b.account}:${b.key}`), logLevel: 'warn' });
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  try {
    const latency = await fillLatency(mesh, call, samples);
    const throughput = await fillRate(mesh, call, gpuCount);
    process.stdout.write(`${JSON.stringify({
      bench: 'market', waiting_bids: WAITING, ...latency, ...throughput,
      targets: { fill_p99_ms_max: 500 },
    })}\n`);
  } finally {
    await mesh.stop();
  }
}

type Call = (method: string, path: string, options?: Parameters<typeof http>[3]) => ReturnType<typeof http<any>>;

async function registerBlocked(call: Call, n: number, model: string): Promise<{ gpu: string; booking: string }[]> {
  return inParallel(Array.from({ length: n }), 16, async (_, i) => {
    const gpu = (await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, headers: { 'X-Miner-ID': `bench-rig-${i % 10}` },
      body: { gpu: { name: model, memory_gb: 24, price_per_hour: 1 } } })).body.gpu_id as string;
    const booked = await call('POST', `/v1/marketplace/gpu/${gpu}/book`, { key: KEYS.client2, body: { duration_hours: 1 } });
    if (booked.status !== 201) throw new Error(`could not block ${gpu}: ${JSON.stringify(booked.body)}`);
    return { gpu, booking: booked.body.booking_id as string };
  });
}

async function submitBids(call: Call, n: number, model: string): Promise<void> {
  await inParallel(Array.from({ length: n }), 16, async (_, i) => {
    const b = BIDDERS[i % BIDDERS.length];
    const res = await call('POST', '/v1/marketplace/bids', { key: b.key, body: { provider: '*', capacity: 1, price: 2, gpu_model: model, duration_hours: 0.25 } });
    if (res.status !== 202) throw new Error(JSON.stringify(res.body));
  });
}

const acceptedOf = async (mesh: TestMesh, model: string) =>
  Number((await mesh.market.db('bids').where({ gpu_model: model, status: 'accepted' }).count({ n: '*' }))[0].n);

async function waitMarketSees(mesh: TestMesh, model: string, n: number): Promise<void> {
  while (Number((await mesh.market.db('gpus').where('model', model).count({ n: '*' }))[0].n) < n) await new Promise((r) => setTimeout(r, 50));
}

async function fillLatency(mesh: TestMesh, call: Call, samples: number) {
  const model = 'Bench Latency GPU';
  step('mesh up; registering');
  const blocked = await registerBlocked(call, samples, model);
  // The baseline's GPUs: another model, which no bid wants.
  const others = await registerBlocked(call, samples, 'Bench Baseline GPU');
  await waitMarketSees(mesh, model, samples);
  step('bidding');
  await submitBids(call, WAITING, model);
  step('measuring fills');
  await new Promise((r) => setTimeout(r, 1500)); // every bid looked at once, none fillable
  const fills: number[] = [];
  for (const { booking } of blocked) {
    const before = await acceptedOf(mesh, model);
    const t0 = performance.now();
    await call('POST', `/v1/marketplace/bookings/${booking}/release`, { key: KEYS.client2 });
    while ((await acceptedOf(mesh, model)) === before) await new Promise((r) => setTimeout(r, 2));
    fills.push(performance.now() - t0);
  }
  step('measuring the baseline');
  // Baseline: a GPU freed and booked at once by a person (no market in between).
  const direct: number[] = [];
  for (const { gpu, booking } of others) {
    const t0 = performance.now();
    await call('POST', `/v1/marketplace/bookings/${booking}/release`, { key: KEYS.client2 });
    const res = await call('POST', `/v1/marketplace/gpu/${gpu}/book`, { key: KEYS.client, body: { duration_hours: 0.25 } });
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    direct.push(performance.now() - t0);
  }
  const p50 = quantile(fills, 0.5);
  const p99 = quantile(fills, 0.99);
  const base50 = quantile(direct, 0.5);
  return {
    fill_latency_ms: { p50, p99, samples }, release_then_book_ms: { p50: base50, p99: quantile(direct, 0.99) },
    fill_p50_vs_release_then_book: Number((p50 / base50).toFixed(2)),
  };
}

async function fillRate(mesh: TestMesh, call: Call, n: number) {
  const model = 'Bench Rate GPU';
  const blocked = await registerBlocked(call, n, model);
  await waitMarketSees(mesh, model, n);
  // Baseline first: the same bookings one after another straight to the booking service
  // (two hours ahead, out of the way of the fills).
  const booking = testClient(BookingServiceClient, mesh.booking.address);
  const coordinator = { accountId: 'coordinator', role: Role.ROLE_SERVICE };
  const t1 = performance.now();
  for (const [i, { gpu }] of blocked.entries()) {
    await booking.client.createBooking({
      caller: coordinator, clientId: BIDDERS[i % BIDDERS.length].account, gpuId: gpu, durationHours: 0.25, jobId: `bench-${i}`,
      startTime: new Date(Date.now() + 2 * 3600_000), dryRun: false, idempotencyKey: '',
    });
  }
  const baseSeconds = (performance.now() - t1) / 1000;
  booking.close();
  await submitBids(call, n, model);
  await new Promise((r) => setTimeout(r, 1500));
  step('freeing all at once');
  const t0 = performance.now();
  await inParallel(blocked, 32, ({ booking: id }) => call('POST', `/v1/marketplace/bookings/${id}/release`, { key: KEYS.client2 }));
  while ((await acceptedOf(mesh, model)) < n) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - t0) / 1000;
  const fillsPerSecond = Math.round(n / seconds);
  const sequential = Math.round(n / baseSeconds);
  return {
    gpus_freed_at_once: n, fills_per_second: fillsPerSecond, sequential_bookings_per_second: sequential,
    fills_vs_sequential_bookings: Number((fillsPerSecond / sequential).toFixed(2)),
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
