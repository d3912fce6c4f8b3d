/**
 * Fleet figures (`npm run bench:fleet`): the mesh as `npm run mesh:fleet` runs it (two
 * processes of every service, two gateways) on the machine's PostgreSQL and NATS:
 * - bookings/s (book + release pairs, each worker on GPUs of its own) and list requests/s,
 *   through one gateway and through both, in the same run (the ratio is the figure);
 * - p99 of bookings through both gateways while one booking process is SIGKILLed and
 *   restarted, against the p99 of the same load without the kill.
 * Prints one JSON line. Usage: npm run bench:fleet [-- --seconds 8 --concurrency 16]
 */
import { Agent, request } from 'undici';
import { generateKey } from '../lib/apiKeys';
import { startFleet } from '../bin/fleetProcesses';
import { deleteStream, NATS_URL, testPrefix } from '../test/support/events';
import { createTestDatabase } from '../test/support/testDatabase';
import { arg, load } from './support';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function main(): Promise<void> {
  const seconds = arg('seconds', 8);
  const concurrency = arg('concurrency', 16);
  const database = await createTestDatabase();
  const prefix = testPrefix();
  const keys = { provider: generateKey('provider'), client: generateKey('client') };
  // A client per worker, as with real users: one client making every booking would measure
  // the lock on its one balance row, not the fleet.
  const clientKeys = Array.from({ length: concurrency }, () => generateKey('client'));
  const fleet = await startFleet({
    databaseUrl: database.url, natsUrl: NATS_URL, natsPrefix: prefix, replicas: 2, gateways: 2,
    basePort: 10_000 + Math.floor(Math.random() * 200) * 100,
    userKeys: [`provider:acme:${keys.provider}`, `client:alice:${keys.client}`, ...clientKeys.map((k, i) => `client:bench${i}:${k}`)].join(','),
    env: { LOG_LEVEL: 'warn', AITBC_OPENING_BALANCE: '100000000', RATE_LIMIT_PER_SECOND: '0', HEARTBEAT_TTL_SECONDS: '600' },
  });
  const dispatcher = new Agent({ connections: concurrency * 2 + 4 });
  const call = async (url: string, key: string, method: 'GET' | 'POST', body?: unknown) => {
    const res = await request(url, {
      method, dispatcher, headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined, headersTimeout: 10_000, bodyTimeout: 10_000,
    });
    const text = await res.body.text();
    return { status: res.statusCode, json: text ? JSON.parse(text) : {} };
  };
  try {
    const [g1] = fleet.gatewayUrls;
    // Two GPUs per worker: a worker books one while its release of the other settles.
    const gpus: string[] = [];
    for (let i = 0; i < concurrency * 2; i++) {
      const made = await call(`${g1}/v1/marketplace/gpu/register`, keys.provider, 'POST', { gpu: { model: 'RTX 4090', memory_gb: 24, price_per_hour: 1 } });
      gpus.push(made.json.gpu_id);
    }
    await new Promise((r) => setTimeout(r, 2000)); // booking's GPU snapshot follows the events

    /** Book + release pairs through `gateways` for `ms`: pairs/s, book latencies, errors; `during` runs beside it. */
    const pairs = async (gateways: string[], ms: number, during?: () => Promise<void>) => {
      const latencies: number[] = [];
      let errors = 0;
      const end = Date.now() + ms;
      const worker = async (w: number) => {
        for (let i = 0; Date.now() < end; i++) {
          const url = gateways[(w + i) % gateways.length];
          const started = performance.now();
          try {
            const booked = await call(`${url}/v1/marketplace/gpu/${gpus[w * 2 + (i % 2)]}/book`, clientKeys[w], 'POST', { duration_hours: 1 });
            latencies.push(performance.now() - started);
            if (booked.status !== 201) errors++;
            else await call(`${url}/v1/marketplace/bookings/${booked.json.booking_id}/release`, clientKeys[w], 'POST');
          } catch {
            errors++;
            latencies.push(performance.now() - started);
          }
        }
      };
      await Promise.all([...Array.from({ length: concurrency }, (_, w) => worker(w)), during?.()]);
      latencies.sort((a, b) => a - b);
      return { pairs_per_s: Math.round((latencies.length / ms) * 1000), book_p99_ms: Math.round(percentile(latencies, 99)), errors };
    };
    const lists = async (gateways: string[]) => {
      const results = await Promise.all(gateways.map((g) => load(`${g}/v1/marketplace/gpu/list?limit=20`, {
        connections: Math.ceil(32 / gateways.length), seconds, headers: { 'x-api-key': keys.client },
      })));
      return { rps: results.reduce((n, r) => n + r.rps, 0), p99_ms: Math.max(...results.map((r) => r.p99_ms)) };
    };
    const oneBookings = await pairs([g1], seconds * 1000);
    const twoBookings = await pairs(fleet.gatewayUrls, seconds * 1000);
    const rpcTimes = await averageRpcMs(fleet.processes.filter((p) => p.service !== 'gateway').map((p) => p.metricsAddress));
    const oneLists = await lists([g1]);
    const twoLists = await lists(fleet.gatewayUrls);
    const victim = fleet.processes.find((p) => p.service === 'booking' && p.replica === 0)!;
    const duringKill = await pairs(fleet.gatewayUrls, seconds * 1000, async () => {
      await new Promise((r) => setTimeout(r, 1000));
      victim.child().kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 600));
      await victim.waitServing();
    });
    process.stdout.write(`${JSON.stringify({
      bench: 'fleet', seconds, concurrency,
      bookings: { one_gateway: oneBookings, two_gateways: twoBookings, two_vs_one: +(twoBookings.pairs_per_s / oneBookings.pairs_per_s).toFixed(2) },
      lists: { one_gateway: oneLists, two_gateways: twoLists, two_vs_one: +(twoLists.rps / oneLists.rps).toFixed(2) },
      // Where a booking's time went (both booking runs): mean ms per call, from the processes' own metrics.
      mean_rpc_ms: rpcTimes,
      booking_replica_killed: { ...duringKill, p99_vs_no_kill: +(duringKill.book_p99_ms / twoBookings.book_p99_ms).toFixed(2), restarts: victim.restarts },
    })}\n`);
  } finally {
    await fleet.stop();
    await deleteStream(prefix).catch(() => undefined);
    await database.drop();
  }
}

/** Mean ms per gRPC method (server side, and calls made) over the processes' /metrics. */
async function averageRpcMs(addresses: string[]): Promise<Record<string, number>> {
  const sums = new Map<string, { sum: number; count: number }>();
  for (const address of addresses) {
    const text = await (await fetch(`http://${address}/metrics`)).text();
    for (const m of text.matchAll(/^aitbc_grpc_(server|client)_handling_seconds_(sum|count)\{service="(\w+)",method="[^"]*\/(\w+)"\} ([\d.e+-]+)$/gm)) {
      const key = `${m[3]}:${m[1]}:${m[4]}`;
      const entry = sums.get(key) ?? { sum: 0, count: 0 };
      entry[m[2] as 'sum' | 'count'] += Number(m[5]);
      sums.set(key, entry);
    }
  }
  return Object.fromEntries([...sums].filter(([, v]) => v.count >= 10).map(([k, v]) => [k, Math.round((v.sum / v.count) * 10_000) / 10]));
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
