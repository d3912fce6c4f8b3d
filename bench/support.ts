import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { ROOT } from '../lib/paths';
import { deleteStream, NATS_URL, testPrefix } from '../test/support/events';
import { createTestDatabase, type TestDatabase } from '../test/support/testDatabase';

/** Starts a compiled entry point (or a .ts file through tsx) as its own process. */
export function startProcess(entry: string, env: Record<string, string>, readyText: string): Promise<ChildProcess> {
  // BENCH_PROFILE_DIR=/tmp/prof writes a CPU profile of every process the bench starts.
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}/${path.basename(path.dirname(path.dirname(entry)))}`] : [];
  const args = entry.endsWith('.ts') ? [require.resolve('tsx/cli'), entry] : [...profile, path.join(ROOT, entry)];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let ready = false;
  return new Promise((resolve, reject) => {
    // Keep only what start-up needs: a child logging under load must never wait on this pipe.
    const onData = (d: Buffer) => {
      if (ready) {
        if (process.env.BENCH_SHOW_LOGS) process.stderr.write(d);
        return;
      }
      output += d;
      if (output.includes(readyText)) {
        ready = true;
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${entry} exited (${code}):\n${output}`)));
    setTimeout(() => reject(new Error(`${entry} did not start:\n${output}`)), 60_000).unref();
  });
}

export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non2xx: number;
  requests: number;
}

/** Runs autocannon against one URL and keeps the figures we report. */
export async function load(url: string, options: {
  connections: number; seconds: number; headers?: Record<string, string>;
  /** Varies the path per request (for example to defeat coalescing of identical queries). */
  path?: () => string;
}): Promise<LoadResult> {
  const pathOf = options.path;
  const result = await autocannon({
    url, connections: options.connections, duration: options.seconds, headers: options.headers,
    requests: pathOf ? [{ setupRequest: (req: any) => ({ ...req, path: pathOf() }) }] : undefined,
  } as autocannon.Options);
  return {
    rps: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/** What each measure grew by between two readings, per unit of work done (`count`), rounded. */
export function perUnit(before: Record<string, number>, after: Record<string, number>, count: number, decimals = 2): Record<string, number> {
  const scale = 10 ** decimals;
  return Object.fromEntries(Object.keys(after).map((k) => [k, Math.round(((after[k] - (before[k] ?? 0)) / Math.max(count, 1)) * scale) / scale]));
}

/** A numeric command-line option: `--name value`, else the fallback. */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** What every bench starts from: a database and a NATS prefix of its own, and its processes. */
export interface BenchFixture {
  database: TestDatabase;
  prefix: string;
  /** A port range of this run's own: base, base + 1, … */
  base: number;
  /** What each service needs: the database, NATS with the prefix, info logs. */
  common: Record<string, string>;
  /** Starts an entry point (see startProcess); it is stopped by `close`. */
  start(entry: string, env: Record<string, string>, readyText: string): Promise<ChildProcess>;
  /** CPU milliseconds used so far by each started process, PostgreSQL, NATS and this process. */
  cpu(): Record<string, number>;
  /** write/writev system calls made so far by the same processes (sockets included; see procWrites). */
  writes(): Record<string, number>;
  /** Stops the processes, then drops the database and the stream. */
  close(): Promise<void>;
}

const TICK_MS = 10; // Linux USER_HZ is 100

/** utime + stime of a process from /proc, in ms; 0 when it is gone. */
function procCpuMs(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

/**
 * write(2)/writev(2) calls of a process from /proc (syscw); 0 when it is gone. On this kind of
 * VM a socket write that wakes another process costs far more than the work it carries, so
 * the count explains throughput better than the bytes do. PostgreSQL answers with send(2),
 * which syscw does not count.
 */
function procWrites(pid: number | string): number {
  try {
    return Number(/^syscw: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The sum of `measure` over every process whose command name is `comm` (PostgreSQL backends come and go; the sum over live ones is what is measurable). */
function commSum(comm: string, measure: (pid: string) => number): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) total += measure(pid);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/** The service key of each bench process that calls others (each finds its own as service:<name>) and of the bench itself. */
export const BENCH_SERVICE_KEY = (name: string) => `bench-service-key-${name}-0000000000`;
const BENCH_SERVICE_KEYS = ['gateway', 'booking', 'registry', 'accounts', 'bench'].map((n) => `service:${n}:${BENCH_SERVICE_KEY(n)}`).join(',');
/** A bench's user keys (role:account:key,…) with the service keys every process needs. */
export const withServiceKeys = (users: string): string => `${users},${BENCH_SERVICE_KEYS}`;

/** Whether nothing listens on 127.0.0.1:port. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer().once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A random base in [portBase, portBase + 1000) whose next ten ports are free: benches of
 * their own may run side by side, and other software on the machine (RabbitMQ's 25672, say)
 * must not make a run fail at start.
 */
async function freeBase(portBase: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = portBase + Math.floor(Math.random() * 990);
    const free = await Promise.all(Array.from({ length: 10 }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ten free ports from ${portBase} to ${portBase + 1000}`);
}

export async function benchFixture(portBase: number): Promise<BenchFixture> {
  const base = await freeBase(portBase);
  const database = await createTestDatabase();
  const prefix = testPrefix();
  const children: ChildProcess[] = [];
  const names = new Map<number, string>();
  return {
    database,
    prefix,
    base,
    common: { DATABASE_URL: database.url, NATS_URL, NATS_SUBJECT_PREFIX: prefix, LOG_LEVEL: 'info', AITBC_API_KEYS: BENCH_SERVICE_KEYS },
    async start(entry, env, readyText) {
      const child = await startProcess(entry, env, readyText);
      children.push(child);
      // dist/services/<name>/…, dist/gateway/…, bench/<name>.ts
      const parts = entry.split('/');
      // dist/bin/mesh.js: the whole mesh in one process.
      names.set(child.pid!, parts[1] === 'services' ? parts[2] : parts[1] === 'bin' ? path.basename(entry, '.js') : parts[0] === 'dist' ? parts[1] : path.basename(entry).replace(/\..*$/, ''));
      return child;
    },
    cpu() {
      const usage = process.cpuUsage();
      const out: Record<string, number> = {};
      for (const [pid, name] of names) out[name] = procCpuMs(pid);
      out.postgres = commSum('postgres', procCpuMs);
      out.nats = commSum('nats-server', procCpuMs);
      out.load_generator = Math.round((usage.user + usage.system) / 1000);
      return out;
    },
    writes() {
      const out: Record<string, number> = {};
      for (const [pid, name] of names) out[name] = procWrites(pid);
      out.nats = commSum('nats-server', procWrites);
      out.load_generator = procWrites(process.pid);
      return out;
    },
    async close() {
      for (const child of children) child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 1000));
      await deleteStream(prefix);
      await database.drop();
    },
  };
}
