/**
 * With 10,000 GPUs across 20 models (a third of them booked): Quote calls per second over
 * gRPC to the pricing service (64 in flight), and GET /v1/marketplace/pricing/{model} per
 * second through the gateway (50, then 10 connections, a random model per request), each service
 * in its own process on real PostgreSQL and NATS. Prints one JSON line.
 * Usage: npm run bench:pricing [-- --gpus 10000 --seconds 10]
 */
import pg from 'pg';
import { Role } from '../lib/caller';
import { PricingServiceClient } from '../lib/gen/aitbc/marketplace/v1/pricing';
import { connect } from '../lib/grpcClient';
import { CATALOGUE } from '../lib/modelCatalogue';
import { arg, benchFixture, load, BENCH_SERVICE_KEY, withServiceKeys } from './support';

const MODELS = CATALOGUE.slice(0, 20);

async function main(): Promise<void> {
  const gpus = arg('gpus', 10_000);
  const seconds = arg('seconds', 10);
  const bench = await benchFixture(23_000);
  const { base } = bench;
  const key = 'bench-client-key-0000000000';
  try {
    await bench.start('dist/services/pricing/src/main.js', { ...bench.common, PRICING_PORT: String(base + 4) }, 'pricing serving');
    const seedMs = await seed(bench.database.url, gpus);
    await bench.start('dist/gateway/src/main.js', {
      PORT: String(base), PRICING_ADDR: `127.0.0.1:${base + 4}`, RATE_LIMIT_PER_SECOND: '0', AITBC_API_KEYS: withServiceKeys(`client:bench:${key}`), LOG_LEVEL: 'info',
    }, 'gateway listening');
    const url = (m: string) => `http://127.0.0.1:${base}/v1/marketplace/pricing/${encodeURIComponent(m)}`;
    // Wait for the price book's next tick to have priced every seeded model.
    for (let i = 0; ; i++) {
      const res = await fetch(url(MODELS[19].name), { headers: { 'X-Api-Key': key } });
      if (res.status === 200) break;
      if (i > 100) throw new Error(`model not priced: ${res.status} ${await res.text()}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const handle = connect(PricingServiceClient, `127.0.0.1:${base + 4}`, 3000, { key: BENCH_SERVICE_KEY('bench') });
    const quotes = await quoteLoad(handle.client, seconds);
    handle.close();

    const path = () => `/v1/marketplace/pricing/${encodeURIComponent(MODELS[Math.floor(Math.random() * MODELS.length)].name)}`;
    await load(url(MODELS[0].name), { connections: 50, seconds: 2, headers: { 'X-Api-Key': key }, path }); // warm-up
    const rest = await load(url(MODELS[0].name), { connections: 50, seconds, headers: { 'X-Api-Key': key }, path });
    const rest10 = await load(url(MODELS[0].name), { connections: 10, seconds, headers: { 'X-Api-Key': key }, path });
    process.stdout.write(`${JSON.stringify({
      bench: 'pricing', gpus, models: MODELS.length, seconds, seed_ms: seedMs, quotes, rest_model_price_50_connections: rest, rest_model_price_10_connections: rest10,
      targets: { rest_p99_ms_max: 20 },
    })}\n`);
  } finally {
    await bench.close();
  }
}

/** Quote calls with 64 in flight for `seconds`: rate and latency. */
async function quoteLoad(client: ReturnType<typeof connect<PricingServiceClient>>['client'], seconds: number) {
  const caller = { accountId: 'bench', role: Role.ROLE_SERVICE };
  const latencies: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const model = MODELS[latencies.length % MODELS.length];
      const started = performance.now();
      try {
        await client.quote({ caller, gpuId: 'gpu_bench', model: model.name, listedPricePerHourMicro: 1_500_000, durationSeconds: 3600 });
        latencies.push(performance.now() - started);
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  latencies.sort((a, b) => a - b);
  const at = (p: number) => Math.round(latencies[Math.floor(p * (latencies.length - 1))] * 100) / 100;
  return { per_second: Math.round(latencies.length / seconds), p50_ms: at(0.5), p99_ms: at(0.99), errors, in_flight: 64 };
}

/** GPUs straight into pricing's projection (what registry events would have written), a third booked. */
async function seed(url: string, count: number): Promise<number> {
  const started = Date.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`
    INSERT INTO pricing.gpus (gpu_id, model_key, model, price_micro, online)
    SELECT 'gpu_' || i, ($2::text[])[1 + i % 20], ($3::text[])[1 + i % 20], 500000 + (i * 7919) % 3000000, i % 10 <> 0
    FROM generate_series(1, $1) AS i`, [count, MODELS.map((m) => m.key), MODELS.map((m) => m.name)]);
  await client.query(`
    INSERT INTO pricing.bookings (booking_id, gpu_id, model_key, price_per_hour_micro, start_time, end_time, created_at)
    SELECT 'bkg_' || i, 'gpu_' || i, ($2::text[])[1 + i % 20], 500000 + (i * 7919) % 3000000, now() - interval '10 minutes',
      now() + interval '1 hour', now() - interval '10 minutes'
    FROM generate_series(1, $1) AS i WHERE i % 3 = 0`, [count, MODELS.map((m) => m.key)]);
  await client.query('ANALYZE pricing.gpus; ANALYZE pricing.bookings');
  await client.end();
  return Date.now() - started;
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
