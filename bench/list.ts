/**
 * With 100,000 GPUs registered: GET /v1/marketplace/gpu/list?available=true&limit=20 through
 * the gateway (registry and gateway as their own processes, real gRPC and PostgreSQL), at 50
 * connections, beside a bare Fastify route returning a same-sized constant array. Prints
 * one JSON line. Usage: npm run bench:list [-- --gpus 100000 --seconds 10]
 */
import pg from 'pg';
import { arg, benchFixture, load, withServiceKeys } from './support';

async function main(): Promise<void> {
  const gpus = arg('gpus', 100_000);
  const seconds = arg('seconds', 10);
  const connections = arg('connections', 50);
  const bench = await benchFixture(21_000);
  const { base } = bench;
  const key = 'bench-client-key-0000000000';
  try {
    // The accounts service knows the keys (the gateway and registry ask it who a key is).
    const keys = { AITBC_API_KEYS: withServiceKeys(`client:bench:${key}`), ACCOUNTS_ADDR: `127.0.0.1:${base + 5}` };
    await bench.start('dist/services/accounts/src/main.js', { ...bench.common, ...keys, ACCOUNTS_PORT: String(base + 5) }, 'accounts serving');
    // A TTL longer than the run keeps the seeded GPUs online throughout.
    await bench.start('dist/services/registry/src/main.js', { ...bench.common, ...keys, REGISTRY_PORT: String(base + 1), MINER_PORT: String(base + 7), HEARTBEAT_TTL_SECONDS: '86400' }, 'registry serving');
    await seed(bench.database.url, gpus);
    await bench.start('dist/gateway/src/main.js', {
      ...keys, PORT: String(base), REGISTRY_ADDR: `127.0.0.1:${base + 1}`, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'info',
    }, 'gateway listening');
    const listUrl = `http://127.0.0.1:${base}/v1/marketplace/gpu/list?available=true&limit=20`;
    const page = await (await fetch(listUrl, { headers: { 'X-Api-Key': key } })).text();
    if (JSON.parse(page).length !== 20) throw new Error(`expected a page of 20, got ${page.slice(0, 200)}`);
    await bench.start('bench/bareServer.ts', { PORT: String(base + 2), BARE_BODY: page }, 'bare listening');

    await load(listUrl, { connections, seconds: 2, headers: { 'X-Api-Key': key } }); // warm-up
    // --distinct-only: only the distinct workload (for a CPU profile of it, BENCH_PROFILE_DIR).
    const distinctOnly = process.argv.includes('--distinct-only');
    const list = await load(listUrl, { connections, seconds: distinctOnly ? 1 : seconds, headers: { 'X-Api-Key': key } });
    // The same read with 2,000 distinct price caps, so concurrent requests rarely share a
    // registry call: the cost of the full path gateway → gRPC → registry → PostgreSQL.
    const distinctPath = () => `/v1/marketplace/gpu/list?available=true&limit=20&price_max=${(1 + Math.floor(Math.random() * 2000) / 1000).toFixed(3)}`;
    const distinct = await load(listUrl, { connections, seconds, headers: { 'X-Api-Key': key }, path: distinctPath });
    await load(`http://127.0.0.1:${base + 2}/list`, { connections, seconds: 2 });
    const bare = await load(`http://127.0.0.1:${base + 2}/list`, { connections, seconds });
    process.stdout.write(`${JSON.stringify({
      bench: 'gpu-list', gpus, connections, seconds, page_bytes: page.length,
      list, list_distinct_queries: distinct, bare, list_vs_bare: Math.round((list.rps / bare.rps) * 1000) / 1000,
      targets: { list_vs_bare_min: 0.3, p99_ms_max: 25 },
    })}\n`);
  } finally {
    await bench.close();
  }
}

/** Bulk-inserts GPUs straight into the registry schema: 90 % online, 5 % booked. */
async function seed(url: string, count: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`
    INSERT INTO registry.gpus (id, owner_id, miner_id, hw_key, model, model_key, memory_gb, cuda_cores, region,
      price_micro, online, last_heartbeat_at, booking_expires, average_rating, created_at)
    SELECT 'gpu_' || substr(md5(i::text), 1, 20), 'owner' || (i % 500), 'rig' || (i % 7), 'slot:' || i,
      m.model, lower(regexp_replace(m.model, '[^A-Za-z0-9]+', '', 'g')), m.mem, 10000, (ARRAY['eu-west','us-east','ap-south'])[1 + i % 3],
      100000 + (i * 7919) % 4000000, i % 10 <> 0, now(), CASE WHEN i % 20 = 1 THEN now() + interval '1 hour' END,
      ((i * 31) % 500) / 100.0, now() - (i || ' seconds')::interval
    FROM generate_series(1, $1) AS i
    CROSS JOIN LATERAL (SELECT (ARRAY['RTX 4090','RTX 3090','A100 80GB','H100 80GB','L40S'])[1 + i % 5] AS model,
      (ARRAY[24,24,80,80,48])[1 + i % 5] AS mem) AS m`, [count]);
  await client.query('ANALYZE registry.gpus');
  await client.end();
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
