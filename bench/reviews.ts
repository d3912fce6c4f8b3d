/**
 * Reviews through the gateway (reviews service and gateway in their own processes, real
 * PostgreSQL and NATS): GET /v1/marketplace/gpu/{id}/reviews?limit=10 on a GPU with 10,000
 * reviews (50 connections, then 10; then 300 distinct pages at random), and review writes per second (32 clients writing
 * concurrently, each review of another GPU they booked). Prints one JSON line.
 * Usage: npm run bench:reviews [-- --reviews 10000 --seconds 10]
 */
import pg from 'pg';
import { Agent, request } from 'undici';
import { arg, benchFixture, load, withServiceKeys } from './support';

const WRITERS = 32;
const GPUS_PER_WRITER = 2000;

async function main(): Promise<void> {
  const reviews = arg('reviews', 10_000);
  const seconds = arg('seconds', 10);
  const bench = await benchFixture(24_000);
  const { base } = bench;
  const readerKey = 'bench-reader-key-0000000000';
  const writers = Array.from({ length: WRITERS }, (_, i) => ({ account: `w${i}`, key: `bench-writer-key-${String(i).padStart(8, '0')}` }));
  const keys = [`client:reader:${readerKey}`, ...writers.map((w) => `client:${w.account}:${w.key}`)].join(',');
  try {
    await bench.start('dist/services/reviews/src/main.js', { ...bench.common, REVIEWS_PORT: String(base + 3) }, 'reviews serving');
    const hot = await seed(bench.database.url, reviews, writers.map((w) => w.account));
    await bench.start('dist/gateway/src/main.js', {
      PORT: String(base), REVIEWS_ADDR: `127.0.0.1:${base + 3}`, RATE_LIMIT_PER_SECOND: '0', AITBC_API_KEYS: withServiceKeys(keys), LOG_LEVEL: 'info',
    }, 'gateway listening');
    const url = `http://127.0.0.1:${base}/v1/marketplace/gpu/${hot}/reviews?limit=10`;
    const first = await (await fetch(url, { headers: { 'X-Api-Key': readerKey } })).json() as { total_reviews: number; reviews: unknown[] };
    if (first.total_reviews !== reviews || first.reviews.length !== 10) throw new Error(`unexpected answer ${JSON.stringify(first).slice(0, 200)}`);

    await load(url, { connections: 50, seconds: 2, headers: { 'X-Api-Key': readerKey } }); // warm-up
    const read50 = await load(url, { connections: 50, seconds, headers: { 'X-Api-Key': readerKey } });
    const read10 = await load(url, { connections: 10, seconds, headers: { 'X-Api-Key': readerKey } });
    // Distinct pages (the first 300 cursors of the GPU), so concurrent reads rarely share a
    // call: the cost of the whole path gateway → gRPC → reviews → PostgreSQL.
    const cursors: string[] = [];
    for (let next = ''; cursors.length < 300;) {
      const page = await (await fetch(`${url}${next ? `&cursor=${next}` : ''}`, { headers: { 'X-Api-Key': readerKey } })).json() as { next_cursor: string };
      next = page.next_cursor;
      cursors.push(next);
    }
    const distinctPath = () => `/v1/marketplace/gpu/${hot}/reviews?limit=10&cursor=${cursors[Math.floor(Math.random() * cursors.length)]}`;
    const distinct = await load(url, { connections: 50, seconds, headers: { 'X-Api-Key': readerKey }, path: distinctPath });
    const writes = await writeLoad(`http://127.0.0.1:${base}`, writers, seconds);
    process.stdout.write(`${JSON.stringify({
      bench: 'reviews', reviews_on_gpu: reviews, seconds, read_50_connections: read50, read_10_connections: read10, read_distinct_pages_50_connections: distinct, writes,
      targets: { read_p99_ms_max: 20 },
    })}\n`);
  } finally {
    await bench.close();
  }
}

/** Each writer posts reviews of its own GPUs, one after another, for `seconds`. */
async function writeLoad(base: string, writers: { account: string; key: string }[], seconds: number) {
  const dispatcher = new Agent({ connections: writers.length });
  const latencies: number[] = [];
  let failures = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(writers.map(async (w) => {
    for (let g = 0; g < GPUS_PER_WRITER && Date.now() < end; g++) {
      const started = performance.now();
      const res = await request(`${base}/v1/marketplace/gpu/${gpuId(w.account, g)}/reviews`, {
        method: 'POST', dispatcher, headers: { 'X-Api-Key': w.key, 'Content-Type': 'application/json' },
        body: JSON.stringify({ rating: 1 + (g % 5), comment: g % 2 ? null : 'solid card, fast start' }),
      });
      await res.body.dump();
      if (res.statusCode === 201) latencies.push(performance.now() - started);
      else failures++;
    }
  }));
  await dispatcher.close();
  latencies.sort((a, b) => a - b);
  const at = (p: number) => Math.round(latencies[Math.floor(p * (latencies.length - 1))] * 100) / 100;
  return { per_second: Math.round(latencies.length / seconds), p50_ms: at(0.5), p99_ms: at(0.99), failures, writers: writers.length };
}

/** A GPU id of the shape the services check (gpu_ + 20 base32 characters). */
const gpuId = (owner: string, n: number) => `gpu_${`${owner}x${String(n).padStart(6, '0')}`.padEnd(20, '0')}`;

/**
 * Straight into the reviews schema (what events and earlier writes would have left): one hot
 * GPU with `count` visible reviews and its summary, and GPUs each writer booked.
 */
async function seed(url: string, count: number, writers: string[]): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined); // the database is dropped under it when the bench fails
  await client.connect();
  const hot = 'gpu_hot00000000000000000';
  await client.query(`INSERT INTO reviews.known_gpus (gpu_id, owner_id) VALUES ($1, 'acme')`, [hot]);
  await client.query(`
    INSERT INTO reviews.reviews (review_id, gpu_id, client_id, booking_id, rating, comment, created_at)
    SELECT 'rev_' || lpad(i::text, 20, '0'), $1, 'client' || i, 'bkg_' || lpad(i::text, 20, '0'), 1 + i % 5,
      CASE WHEN i % 3 = 0 THEN NULL ELSE 'review number ' || i END, now() - (i || ' seconds')::interval
    FROM generate_series(1, $2) AS i`, [hot, count]);
  await client.query(`
    INSERT INTO reviews.gpu_ratings (gpu_id, h1, h2, h3, h4, h5, version)
    SELECT $1, count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), count(*) FILTER (WHERE rating = 3),
      count(*) FILTER (WHERE rating = 4), count(*) FILTER (WHERE rating = 5), count(*) FROM reviews.reviews WHERE gpu_id = $1`, [hot]);
  const ids = writers.flatMap((w) => Array.from({ length: GPUS_PER_WRITER }, (_, g) => [gpuId(w, g), w]));
  await client.query(`INSERT INTO reviews.known_gpus (gpu_id, owner_id) SELECT unnest($1::text[]), 'acme' ON CONFLICT DO NOTHING`, [ids.map(([g]) => g)]);
  await client.query(`
    INSERT INTO reviews.renters (gpu_id, client_id, booking_id, booked_at)
    SELECT g, c, 'bkg_' || md5(g || c), now() FROM unnest($1::text[], $2::text[]) AS t(g, c)`, [ids.map(([g]) => g), ids.map(([, c]) => c)]);
  await client.query('ANALYZE reviews.reviews; ANALYZE reviews.renters; ANALYZE reviews.known_gpus');
  await client.end();
  return hot;
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
