import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { generateKey } from '../lib/apiKeys';
import { checkHealth, healthChannel } from '../lib/grpcClient';
import { ROOT } from '../lib/paths';

/** The parts of the mesh, in start order (each needs only those before it to be up). */
export const FLEET_SERVICES = ['accounts', 'registry', 'pricing', 'reviews', 'booking', 'market'] as const;
export type FleetService = (typeof FLEET_SERVICES)[number] | 'gateway';

export interface FleetOptions {
  databaseUrl: string;
  natsUrl: string;
  /** Subject prefix and stream of this fleet's events (one NATS can carry several fleets). */
  natsPrefix: string;
  /** Ports from here up: see `portOf`. */
  basePort: number;
  replicas: number;
  gateways: number;
  /** role:account:key,… of the people (service keys are made here). */
  userKeys: string;
  /** Where each process's log goes (<name>.log); else they are dropped. */
  logDir?: string;
  /** Extra environment for every process (RATE_LIMIT_PER_SECOND, HEARTBEAT_TTL_SECONDS, …). */
  env?: Record<string, string>;
  /** Restart a process that exits on its own, like compose's restart: unless-stopped (default true). */
  restart?: boolean;
}

export interface FleetProcess {
  name: string;
  service: FleetService;
  replica: number;
  /** The gRPC address (host:port) or the gateway's URL. */
  address: string;
  metricsAddress: string;
  child(): ChildProcess;
  restarts: number;
  /** Starts it again after a kill, resolving when it serves. */
  waitServing(): Promise<void>;
}

export interface Fleet {
  gatewayUrls: string[];
  minerAddresses: string[];
  processes: FleetProcess[];
  stop(): Promise<void>;
}

const PORT_FIELDS: Record<Exclude<FleetService, 'gateway'>, string> = {
  accounts: 'ACCOUNTS', registry: 'REGISTRY', pricing: 'PRICING', reviews: 'REVIEWS', booking: 'BOOKING', market: 'MARKET',
};

/**
 * Each process on its own port: service s, replica r listens on base + 10·s + r; the
 * registry's miner ports are base + 70 + r, gateways base + 80 + g, metrics base + 100 + n.
 */
const portOf = (base: number, index: number, replica: number) => base + index * 10 + replica;

/**
 * Starts a fleet: `replicas` processes of every service and `gateways` gateways, each its own
 * Node.js process on the given PostgreSQL and NATS. A service's clients reach every replica
 * of another through one grpc-js target listing them all (`ipv4:a:p1,a:p2`) with
 * round_robin balancing, the same as DNS round-robin under compose. Processes start one
 * service at a time, first replicas first (two replicas never migrate one schema at once).
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const serviceKeys = Object.fromEntries([...FLEET_SERVICES, 'gateway'].map((s) => [s, generateKey('service')]));
  const apiKeys = [options.userKeys, ...Object.entries(serviceKeys).map(([s, k]) => `service:${s}:${k}`)].join(',');
  const targets = Object.fromEntries(FLEET_SERVICES.map((s, i) => [s,
    `ipv4:${Array.from({ length: options.replicas }, (_, r) => `127.0.0.1:${portOf(options.basePort, i, r)}`).join(',')}`]));
  const addrs = {
    ACCOUNTS_ADDR: targets.accounts, REGISTRY_ADDR: targets.registry, PRICING_ADDR: targets.pricing,
    REVIEWS_ADDR: targets.reviews, BOOKING_ADDR: targets.booking, MARKET_ADDR: targets.market,
  };
  const common = {
    // 12 service processes with pools of 5 and 2 gateways (limits: 5) stay under PostgreSQL's default 100 connections.
    DB_POOL_MAX: '5',
    ...options.env, DATABASE_URL: options.databaseUrl, NATS_URL: options.natsUrl, NATS_SUBJECT_PREFIX: options.natsPrefix,
    AITBC_API_KEYS: apiKeys, ...addrs,
  };
  if (options.logDir) mkdirSync(options.logDir, { recursive: true });
  const processes: (FleetProcess & { stop(): Promise<void> })[] = [];
  let metricsPort = options.basePort + 100;
  const plan: { service: FleetService; replica: number; env: Record<string, string>; address: string }[] = [];
  FLEET_SERVICES.forEach((service, i) => {
    for (let r = 0; r < options.replicas; r++) {
      const port = portOf(options.basePort, i, r);
      const env: Record<string, string> = { [`${PORT_FIELDS[service]}_PORT`]: String(port), METRICS_PORT: String(metricsPort++) };
      if (service === 'registry') env.MINER_PORT = String(options.basePort + 70 + r);
      plan.push({ service, replica: r, env, address: `127.0.0.1:${port}` });
    }
  });
  for (let g = 0; g < options.gateways; g++) {
    const port = options.basePort + 80 + g;
    plan.push({ service: 'gateway', replica: g, env: { PORT: String(port), RATE_LIMIT_DATABASE_URL: options.databaseUrl }, address: `http://127.0.0.1:${port}` });
  }
  for (const p of plan) {
    const proc = supervise(p.service, p.replica, p.address, { ...common, ...p.env }, options);
    processes.push(proc);
    try {
      await proc.waitServing();
    } catch (err) {
      await stopAll(processes);
      throw err;
    }
  }
  return {
    gatewayUrls: processes.filter((p) => p.service === 'gateway').map((p) => p.address),
    minerAddresses: Array.from({ length: options.replicas }, (_, r) => `127.0.0.1:${options.basePort + 70 + r}`),
    processes,
    stop: () => stopAll(processes),
  };
}

/** Children still running: none outlives the fleet's own process, whatever ends it. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The entry file of a part: the compiled .js beside this file when it runs compiled, else the .ts (run with tsx). */
function entryOf(service: FleetService): string {
  const compiled = __filename.endsWith('.js');
  const rel = service === 'gateway' ? 'gateway/src/main' : `services/${service}/src/main`;
  return compiled ? path.join(__dirname, '..', `${rel}.js`) : path.join(ROOT, `${rel}.ts`);
}

function supervise(service: FleetService, replica: number, address: string, env: Record<string, string>, options: FleetOptions) {
  const name = `${service}-${replica + 1}`;
  let child!: ChildProcess;
  let stopping = false;
  const log: WriteStream | undefined = options.logDir ? createWriteStream(path.join(options.logDir, `${name}.log`), { flags: 'a' }) : undefined;
  const launch = (): Promise<void> => {
    const entry = entryOf(service);
    const args = entry.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs'), entry] : [entry];
    const current = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child = current;
    live.add(current);
    current.once('exit', () => live.delete(current));
    let exited = false;
    const up = new Promise<void>((resolve, reject) => {
      createInterface({ input: current.stdout! }).on('line', (line) => log?.write(`${line}\n`));
      current.stderr!.on('data', (chunk) => log?.write(chunk));
      current.once('exit', (code, signal) => {
        exited = true;
        reject(new Error(`${name} exited (${signal ?? code}) before serving`));
        if (stopping || options.restart === false) return;
        // Like a supervisor: a process that died is started again.
        proc.restarts++;
        serving = new Promise((r) => setTimeout(r, 500)).then(() => (stopping ? undefined : launch()));
        serving.catch(() => undefined);
      });
      // Serving is what its health says (gRPC health, the gateway's /healthz), whatever it logs.
      const probe = async () => {
        while (!exited) {
          if (await isServing(service, address)) return resolve();
          await new Promise((r) => setTimeout(r, 200));
        }
      };
      void probe();
    });
    up.catch(() => undefined);
    return up;
  };
  let serving = launch();
  const proc = {
    name, service, replica, address, restarts: 0,
    // A gateway serves its metrics on its own port.
    metricsAddress: env.METRICS_PORT ? `127.0.0.1:${env.METRICS_PORT}` : address.replace(/^http:\/\//, ''),
    child: () => child,
    waitServing: () => serving,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      log?.end();
    },
  };
  return proc;
}

async function isServing(service: FleetService, address: string): Promise<boolean> {
  if (service === 'gateway') {
    return fetch(`${address}/healthz`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
  }
  const channel = healthChannel(address);
  try {
    return (await checkHealth(channel, 500)) === 'SERVING';
  } finally {
    channel.close();
  }
}

async function stopAll(processes: { stop?: () => Promise<void> }[]): Promise<void> {
  // Gateways first, then services in reverse start order.
  for (const p of [...processes].reverse()) await p.stop?.();
}

/** Creates the fleet's database when it does not exist (the server's own `postgres` database is never used for it). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000, statement_timeout: 10_000 });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}
