/**
 * GET /v1/marketplace/gpu/list through the gateway (accounts, registry and gateway as their
 * own processes, real gRPC and PostgreSQL; the gateway's list replica as it ships, each list
 * waiting for a pass begun after it arrived) at 50 connections, beside a bare Fastify route
 * returning a same-sized constant array, in one run:
 * - the repeated query `available=true&limit=20` (concurrent identical reads coalesce);
 * - distinct queries: 2,000 filter / sort combinations drawn at random (bench/listQueries.ts),
 *   a tenth of them second-to-fifth cursor pages, at each size of the scale series;
 * - a deep page: page 1 against page 1,000 of one sort (keyset paging costs the same);
 * - the floor: distinct GET /v1/marketplace/gpu/{id} reads (gateway, one gRPC call, one
 *   primary-key statement), the cheapest distinct request this mesh can answer.
 * Each size is measured once the replica holds every seeded GPU (`replica_catch_up_s`);
 * `answered_by` counts the pages its replica and the registry answered. Prints one JSON line.
 *
 *   npm run bench:list [-- --gpus 100000 --seconds 10 --scale 10000,100000,1000000 --distinct-only]
 */
import pg from 'pg';
import { distinctListQueries } from './listQueries';
import { arg, benchFixture, load, perUnit, withServiceKeys, type BenchFixture } from './support';

const KEY = 'bench-client-key-0000000000';
const headers = { 'X-Api-Key': KEY };

async function main(): Promise<void> {
  const scaleArg = process.argv.indexOf('--scale');
  const sizes = scaleArg >= 0 ? process.argv[scaleArg + 1].split(',').map(Number) : [arg('gpus', 100_000)];
  const seconds = arg('seconds', 10);
  const connections = arg('connections', 50);
  const distinctOnly = process.argv.includes('--distinct-only');
  const bench = await benchFixture(21_000);
  const { base } = bench;
  try {
    // The accounts service knows the keys (the gateway and registry ask it who a key is).
    const keys = { AITBC_API_KEYS: withServiceKeys(`client:bench:${KEY}`), ACCOUNTS_ADDR: `127.0.0.1:${base + 5}` };
    await bench.start('dist/services/accounts/src/main.js', { ...bench.common, ...keys, ACCOUNTS_PORT: String(base + 5) }, 'accounts serving');
    // A TTL longer than the run keeps the seeded GPUs online throughout.
    await bench.start('dist/services/registry/src/main.js', { ...bench.common, ...keys, REGISTRY_PORT: String(base + 1), MINER_PORT: String(base + 7), HEARTBEAT_TTL_SECONDS: '86400' }, 'registry serving');
    await seed(bench.database.url, 0, sizes[0]);
    await bench.start('dist/gateway/src/main.js', {
      ...keys, PORT: String(base), REGISTRY_ADDR: `127.0.0.1:${base + 1}`, RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'info',
    }, 'gateway listening');
    const gateway = `http://127.0.0.1:${base}`;
    const firstLoad = await replicaHolds(gateway, sizes[0]);
    const listUrl = `${gateway}/v1/marketplace/gpu/list?available=true&limit=20`;
    const page = await (await fetch(listUrl, { headers })).text();
    if (JSON.parse(page).length !== 20) throw new Error(`expected a page of 20, got ${page.slice(0, 200)}`);
    await bench.start('bench/bareServer.ts', { PORT: String(base + 2), BARE_BODY: page }, 'bare listening');
    await load(`http://127.0.0.1:${base + 2}/list`, { connections, seconds: 2 });
    const bare = await load(`http://127.0.0.1:${base + 2}/list`, { connections, seconds });

    await load(listUrl, { connections, seconds: 2, headers }); // warm-up
    const list = await load(listUrl, { connections, seconds: distinctOnly ? 1 : seconds, headers });
    const series = [];
    let seeded = sizes[0];
    for (const size of sizes) {
      if (size > seeded) await seed(bench.database.url, seeded, size);
      seeded = size;
      const caughtUp = await replicaHolds(gateway, size);
      const paths = await withCursorPages(gateway, distinctListQueries(2000).map((q) => `/v1/marketplace/gpu/list?${q}`));
      let next = 0;
      await load(listUrl, { connections, seconds: 2, headers, path: () => paths[next++ % paths.length] }); // warm-up
      const [cpuBefore, writesBefore, sourcesBefore] = [bench.cpu(), bench.writes(), await listSources(gateway)];
      const distinct = await load(listUrl, { connections, seconds, headers, path: () => paths[next++ % paths.length] });
      const sourcesAfter = await listSources(gateway);
      const rss = Number(/^aitbc_gateway_resident_memory_bytes (\S+)/m.exec(await (await fetch(`${gateway}/metrics`)).text())?.[1] ?? 0);
      const answered = { replica: sourcesAfter.replica - sourcesBefore.replica, registry: sourcesAfter.registry - sourcesBefore.registry };
      // Where a distinct request's CPU goes, per process (ms per request).
      const cpu = perUnit(cpuBefore, bench.cpu(), distinct.requests, 3);
      const writes = perUnit(writesBefore, bench.writes(), distinct.requests);
      series.push({ gpus: size, replica_catch_up_s: caughtUp, gateway_rss_mb: Math.round(rss / 1e6), answered_by: answered, ...distinct, vs_bare: ratio(distinct.rps, bare.rps), cpu_ms_per_request: cpu, write_syscalls_per_request: writes });
    }
    const byId = await byIdFloor(bench, gateway, connections, seconds);
    const deep = await deepPage(gateway);
    const smallest = series[0];
    const largest = series[series.length - 1];
    process.stdout.write(`${JSON.stringify({
      bench: 'gpu-list', sizes, connections, seconds, page_bytes: page.length, replica_first_load_s: firstLoad, bare,
      repeated: { ...list, vs_bare: ratio(list.rps, bare.rps) },
      distinct: series, by_id: { ...byId, vs_bare: ratio(byId.rps, bare.rps) }, distinct_p99_growth: ratio(largest.p99_ms, smallest.p99_ms), deep_page: deep,
      targets: { repeated_vs_bare_min: 0.5, repeated_p99_ms_max: 25, distinct_vs_bare_min: 0.15, distinct_p99_ms_max: 50, distinct_p99_growth_max: 2 },
    })}\n`);
  } finally {
    await bench.close();
  }
}

/** Seconds until the gateway's list replica holds `gpus` GPUs and is fresh (what the run measures). */
async function replicaHolds(gateway: string, gpus: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const text = await (await fetch(`${gateway}/metrics`)).text();
    const held = Number(/^aitbc_gateway_gpu_replica_gpus\{[^}]*\} (\S+)/m.exec(text)?.[1] ?? -1);
    const age = Number(/^aitbc_gateway_gpu_replica_age_seconds\{[^}]*\} (\S+)/m.exec(text)?.[1] ?? -1);
    if (held === gpus && age >= 0 && age < 0.5) return Math.round((performance.now() - started) / 100) / 10;
    if (performance.now() - started > 600_000) throw new Error(`the list replica holds ${held} of ${gpus} GPUs after 10 min`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** List pages answered so far by the gateway's replica and by the registry. */
async function listSources(gateway: string): Promise<{ replica: number; registry: number }> {
  const text = await (await fetch(`${gateway}/metrics`)).text();
  const read = (source: string) => Number(new RegExp(`^aitbc_gateway_gpu_list_answers_total\\{[^}]*source="${source}"[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
  return { replica: read('replica'), registry: read('registry') };
}

const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

/** A tenth of the queries become their 2nd to 5th pages (walked once here, through X-Next-Cursor). */
async function withCursorPages(gateway: string, paths: string[]): Promise<string[]> {
  const out = [...paths];
  for (let i = 0; i < paths.length; i += 10) {
    let path = paths[i];
    for (let p = 2 + (i % 4); p > 1; p--) {
      const res = await fetch(`${gateway}${path}`, { headers });
      const cursor = res.headers.get('x-next-cursor');
      await res.arrayBuffer();
      if (!cursor) break;
      const url = new URL(path, gateway);
      url.searchParams.set('cursor', cursor);
      path = `${url.pathname}${url.search}`;
    }
    out[i] = path;
  }
  return out;
}

/**
 * The cheapest distinct read through the same mesh: GET /v1/marketplace/gpu/{id} over 2,000
 * GPUs (unbooked, so the gateway asks nothing of booking), one primary-key row each. No list
 * query can beat it: it is the gateway, one gRPC call and one statement.
 */
async function byIdFloor(bench: BenchFixture, gateway: string, connections: number, seconds: number) {
  const client = new pg.Client({ connectionString: bench.database.url });
  await client.connect();
  const { rows } = await client.query('SELECT id FROM registry.gpus WHERE booking_expires IS NULL ORDER BY md5(id) LIMIT 2000');
  await client.end();
  let next = 0;
  const path = () => `/v1/marketplace/gpu/${rows[next++ % rows.length].id}`;
  await load(gateway, { connections, seconds: 2, headers, path });
  const cpuBefore = bench.cpu();
  const result = await load(gateway, { connections, seconds, headers, path });
  return { ...result, cpu_ms_per_request: perUnit(cpuBefore, bench.cpu(), result.requests, 3) };
}

/** Median time of page 1 and of page 1,000 (walked once through cursors) of the price sort. */
async function deepPage(gateway: string): Promise<{ page1_ms: number; page1000_ms: number; ratio: number }> {
  const first = '/v1/marketplace/gpu/list?available=true&limit=20&sort=price';
  let path = first;
  for (let p = 1; p < 1000; p++) {
    const res = await fetch(`${gateway}${path}`, { headers });
    await res.arrayBuffer();
    const cursor = res.headers.get('x-next-cursor');
    if (!cursor) break;
    path = `${first}&cursor=${encodeURIComponent(cursor)}`;
  }
  const median = async (p: string) => {
    const times: number[] = [];
    for (let i = 0; i < 51; i++) {
      const t = performance.now();
      await (await fetch(`${gateway}${p}`, { headers })).arrayBuffer();
      times.push(performance.now() - t);
    }
    return Math.round(times.sort((a, b) => a - b)[25] * 100) / 100;
  };
  const page1 = await median(first);
  const page1000 = await median(path);
  return { page1_ms: page1, page1000_ms: page1000, ratio: ratio(page1000, page1) };
}

/** Bulk-inserts GPUs `from` + 1 … `to` straight into the registry schema: 90 % online, 5 % booked. */
async function seed(url: string, from: number, to: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`
    INSERT INTO registry.gpus (id, owner_id, miner_id, hw_key, model, model_key, catalog_key, memory_gb, cuda_cores, region,
      price_micro, online, last_heartbeat_at, booking_expires, average_rating, created_at)
    SELECT 'gpu_' || substr(md5(i::text), 1, 20), 'owner' || (i % 500), 'rig' || (i % 7), 'slot:' || i,
      m.model, lower(regexp_replace(m.model, '[^A-Za-z0-9]+', '', 'g')), m.catalog, m.mem, 10000, (ARRAY['eu-west','us-east','ap-south'])[1 + i % 3],
      100000 + (i::bigint * 7919) % 4000000, i % 10 <> 0, now(), CASE WHEN i % 20 = 1 THEN now() + interval '1 hour' END,
      ((i * 31) % 500) / 100.0, now() - (i || ' seconds')::interval
    FROM generate_series($1::int + 1, $2::int) AS i
    CROSS JOIN LATERAL (SELECT (ARRAY['RTX 4090','RTX 3090','A100 80GB','H100 80GB','L40S'])[1 + i % 5] AS model,
      (ARRAY['rtx-4090','rtx-3090','a100-80gb','h100-80gb','l40s'])[1 + i % 5] AS catalog,
      (ARRAY[24,24,80,80,48])[1 + i % 5] AS mem) AS m`, [from, to]);
  // Vacuumed and analysed as a table in service would be: autovacuum working through a fresh
  // bulk load during the run would be measured as list cost.
  await client.query('VACUUM (ANALYZE) registry.gpus');
  await client.end();
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
