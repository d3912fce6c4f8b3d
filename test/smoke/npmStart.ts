/**
 * Start-up test of `npm start` on the embedded PostgreSQL (run by .ci/run, not by mocha):
 * a fresh data folder, the mesh comes up, a provider registers a GPU with the CLI's body,
 * a client lists it, asks its price, books, confirms and releases it (the price moves with
 * demand), reviews it, SIGINT stops everything cleanly, a second start finds the GPU
 * again (data survives restarts), and a start with the gateway's port taken fails in words,
 * stopping what it had started. Prints one line per check; exits 1 on the first failure.
 */
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT } from '../../lib/paths';

const dataDir = mkdtempSync(path.join(tmpdir(), 'aitbc-start-'));
chmodSync(dataDir, 0o755);
const port = 18_000 + Math.floor(Math.random() * 1000);
const env = {
  ...process.env,
  AITBC_DATA_DIR: dataDir,
  PORT: String(port),
  REGISTRY_PORT: String(port + 1000),
  MINER_PORT: String(port + 1001),
  BOOKING_PORT: String(port + 3000),
  PRICING_PORT: String(port + 4000),
  REVIEWS_PORT: String(port + 5000),
  ACCOUNTS_PORT: String(port + 6000),
  MARKET_PORT: String(port + 6001),
  // Prices follow demand within seconds here (the default smooths over a minute).
  PRICING_SMOOTHING_SECONDS: '2',
  EMBEDDED_PG_PORT: String(port + 2000),
  LOG_LEVEL: process.env.STARTUP_LOG_LEVEL ?? 'warn',
  DATABASE_URL: '',
  AITBC_API_KEYS: '',
};
const base = `http://127.0.0.1:${port}`;

function check(ok: boolean, what: string): void {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) throw new Error(what);
}

async function startMesh(): Promise<{ stop(): Promise<boolean> }> {
  // Its own process group, so a signal reaches npm and the mesh alike, as Ctrl-C in a terminal does.
  const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  // npm may exit on SIGINT before the mesh under it has finished stopping; the mesh holds
  // the output pipe until it exits, so "closed" means every process writing to it is gone.
  const closed = new Promise<void>((resolve) => child.stdout.on('close', () => resolve()));
  const deadline = Date.now() + 180_000;
  while (!output.includes('mesh is up')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      process.stdout.write(output);
      throw new Error('npm start did not come up');
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    /** SIGINT to the group; resolves true when the mesh logged a clean stop and PostgreSQL is down. */
    async stop() {
      process.kill(-child.pid!, 'SIGINT');
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 30_000);
      await closed;
      clearTimeout(timer);
      const clean = output.includes('mesh stopped') && !(await reachable(Number(env.EMBEDDED_PG_PORT)));
      if (!clean) process.stdout.write(output);
      return clean;
    },
  };
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

async function main(): Promise<void> {
  const first = await startMesh();
  check(true, `npm start came up on embedded PostgreSQL in ${dataDir}`);
  const keys = Object.fromEntries(readFileSync(path.join(dataDir, 'api-keys'), 'utf8').trim().split(',')
    .map((e) => e.split(':')).map(([role, , ...key]) => [role, key.join(':')]));
  check(Boolean(keys.provider && keys.client && keys.admin), 'development keys were created in the data folder');
  const ready = await fetch(`${base}/readyz`);
  check(ready.status === 200, `/readyz answers 200 (${ready.status})`);
  const reg = await fetch(`${base}/v1/marketplace/gpu/register`, {
    method: 'POST',
    headers: { 'X-Api-Key': keys.provider, 'X-Miner-ID': 'default', 'Content-Type': 'application/json' },
    body: JSON.stringify({ gpu: { name: 'RTX 4090', memory_gb: 24, cuda_cores: 16384, compute_capability: '8.9', price_per_hour: 0.5, description: 'smoke' } }),
  });
  const { gpu_id: gpuId } = (await reg.json()) as { gpu_id: string };
  check(reg.status === 201 && Boolean(gpuId), `provider registered a GPU (${reg.status} ${gpuId})`);
  const list = await fetch(`${base}/v1/marketplace/gpu/list?limit=20`, { headers: { 'X-Api-Key': keys.client } });
  const items = (await list.json()) as { id: string }[];
  check(list.status === 200 && items[0]?.id === gpuId, 'client lists it');
  // `aitbc marketplace pricing "RTX 4090"`: the model appears once pricing has the registration event.
  type Pricing = { current_price: number; demand_multiplier: number; static_pricing: { total_gpus: number }; recommendation: { summary: string } };
  const pricing = async () => {
    const res = await fetch(`${base}/v1/marketplace/pricing/${encodeURIComponent('RTX 4090')}`, { headers: { 'X-Api-Key': keys.client } });
    return { status: res.status, body: (await res.json()) as Pricing };
  };
  let quoted = await pricing();
  for (let i = 0; i < 40 && quoted.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    quoted = await pricing();
  }
  check(quoted.status === 200 && quoted.body.static_pricing.total_gpus === 1 && quoted.body.current_price > 0 && Boolean(quoted.body.recommendation.summary),
    `pricing "RTX 4090" answers with price, range, availability and a recommendation (${quoted.status} ${quoted.body.current_price})`);
  const json = { 'Content-Type': 'application/json' };
  type Balance = { available: number; held: number; earnings: number };
  const balanceOf = async (key: string) => (await (await fetch(`${base}/v1/accounts/me/balance`, { headers: { 'X-Api-Key': key } })).json()) as Balance;
  const opening = await balanceOf(keys.client);
  check(opening.available === 1000 && opening.held === 0, `the development client starts with 1000 AITBC (${JSON.stringify(opening)})`);
  const providerBefore = await balanceOf(keys.provider);
  const book = await fetch(`${base}/v1/marketplace/gpu/${gpuId}/book`, {
    method: 'POST', headers: { 'X-Api-Key': keys.client, ...json }, body: JSON.stringify({ gpu_id: gpuId, duration_hours: 1, total_cost: 1 }),
  });
  const booking = (await book.json()) as { booking_id: string; total_cost: number; price_per_hour: number; pricing: { source: string } };
  check(book.status === 201 && booking.pricing.source === 'pricing' && booking.total_cost === booking.price_per_hour,
    `client booked it at the pricing service's quote (${book.status} ${booking.price_per_hour}/h)`);
  let busy = await pricing();
  for (let i = 0; i < 50 && busy.body.demand_multiplier <= quoted.body.demand_multiplier; i++) {
    await new Promise((r) => setTimeout(r, 100));
    busy = await pricing();
  }
  check(busy.body.demand_multiplier > quoted.body.demand_multiplier,
    `the price moves with demand (multiplier ${quoted.body.demand_multiplier} → ${busy.body.demand_multiplier})`);
  let status = '';
  for (let i = 0; i < 40 && status !== 'booked'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = ((await (await fetch(`${base}/v1/marketplace/gpu/${gpuId}`, { headers: { 'X-Api-Key': keys.client } })).json()) as { status: string }).status;
  }
  check(status === 'booked', 'the GPU shows booked (events over the in-process bus)');
  const confirm = await fetch(`${base}/v1/marketplace/gpu/${gpuId}/confirm`, {
    method: 'POST', headers: { 'X-Api-Key': keys.client, ...json }, body: JSON.stringify({ client_id: keys.client }),
  });
  check(confirm.status === 200, 'client confirmed it');
  const held = await balanceOf(keys.client);
  check(held.held === booking.total_cost && held.available === 1000 - booking.total_cost, `its total is held while booked (${JSON.stringify(held)})`);
  const release = await fetch(`${base}/v1/marketplace/gpu/${gpuId}/release`, { method: 'POST', headers: { 'X-Api-Key': keys.client } });
  const released = (await release.json()) as { charged: number; refund: number };
  check(release.status === 200 && Math.round((released.charged + released.refund) * 1e6) === Math.round(booking.total_cost * 1e6),
    'client released it: charged + refund = total');
  let after = await balanceOf(keys.client);
  for (let i = 0; i < 40 && after.held !== 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await balanceOf(keys.client);
  }
  const micro = (n: number) => Math.round(n * 1e6);
  check(after.held === 0 && micro(after.available) === micro(1000 - released.charged), `the refund is back (${JSON.stringify(after)})`);
  const providerAfter = await balanceOf(keys.provider);
  check(micro(providerAfter.earnings - providerBefore.earnings) === micro(released.charged), `the provider earned the charge (${providerAfter.earnings} AITBC)`);
  const orders = (await (await fetch(`${base}/v1/marketplace/orders`, { headers: { 'X-Api-Key': keys.client } })).json()) as { booking_id: string; status: string }[];
  check(orders[0]?.booking_id === booking.booking_id && orders[0].status === 'released', 'the order shows the release');
  // `aitbc marketplace review ID --rating 5` (comment null), then `marketplace reviews ID --limit 10`.
  const reviewed = await fetch(`${base}/v1/marketplace/gpu/${gpuId}/reviews`, {
    method: 'POST', headers: { 'X-Api-Key': keys.client, ...json }, body: JSON.stringify({ rating: 5, comment: null }),
  });
  check(reviewed.status === 201, `client reviewed the GPU it booked (${reviewed.status})`);
  const reviews = (await (await fetch(`${base}/v1/marketplace/gpu/${gpuId}/reviews?limit=10`, { headers: { 'X-Api-Key': keys.client } })).json()) as {
    average_rating: number; total_reviews: number; reviews: unknown[];
  };
  check(reviews.average_rating === 5 && reviews.total_reviews === 1 && reviews.reviews.length === 1, 'the reviews list shows it with the average');
  let average = 0;
  for (let i = 0; i < 40 && average !== 5; i++) {
    await new Promise((r) => setTimeout(r, 100));
    average = ((await (await fetch(`${base}/v1/marketplace/gpu/${gpuId}`, { headers: { 'X-Api-Key': keys.client } })).json()) as { average_rating: number }).average_rating;
  }
  check(average === 5, 'the GPU shows the average rating');
  check(await first.stop(), 'Ctrl-C (SIGINT) stops the mesh cleanly, embedded PostgreSQL included');

  const second = await startMesh();
  const details = await fetch(`${base}/v1/marketplace/gpu/${gpuId}`, { headers: { 'X-Api-Key': keys.client } });
  check(details.status === 200, 'after a restart the GPU is still there (data survives restarts)');
  check(await second.stop(), 'the second run stops cleanly too');

  // The gateway's port taken: a sentence saying what to do, exit 1, and nothing left running.
  const blocker = createServer().listen(port, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  try {
    const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(null); }, 120_000);
      child.on('exit', (c) => { clearTimeout(timer); resolve(c); });
    });
    const said = output.includes(`fatal: cannot listen on 127.0.0.1:${port}: the port is already in use`) && !/\n\s+at /.test(output);
    if (!said) process.stdout.write(output);
    check(code !== 0 && code !== null && said, `with the gateway's port taken it says so in one sentence and exits ${code}`);
    check(!(await reachable(Number(env.EMBEDDED_PG_PORT))), 'and stops the parts it had started, embedded PostgreSQL included');
  } finally {
    blocker.close();
  }
}

main().then(
  () => rmSync(dataDir, { recursive: true, force: true }),
  (err: Error) => {
    process.stderr.write(`startup test failed: ${err.message}\n`);
    process.exit(1);
  },
);
