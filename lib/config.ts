import { type MeshSecurityConfig, readMeshSecurity } from './meshSecurity';

/**
 * Typed configuration from environment variables. Each service declares what it reads with
 * the helpers below; `readConfig` collects every problem and throws one ConfigError that
 * names them all, so a bad start-up says everything that is wrong at once.
 */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Reader<T> = (env: Env, name: string) => T;

/** Reads one variable with `reader`, turning its failures into config problems. */
export class ConfigReader {
  private readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback?: string): string {
    return this.read(name, (env) => {
      const value = env[name]?.trim();
      if (value) return value;
      if (fallback !== undefined) return fallback;
      throw new Error('is required');
    });
  }

  optionalString(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    return this.read(name, (env) => {
      const raw = env[name]?.trim();
      if (!raw) return fallback;
      if (!/^-?\d+$/.test(raw)) throw new Error(`must be an integer, got "${raw}"`);
      const value = Number(raw);
      if (value < min || value > max) throw new Error(`must be between ${min} and ${max}, got ${value}`);
      return value;
    });
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, 0, 65535);
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    return this.read(name, (env) => {
      const raw = env[name]?.trim();
      if (!raw) return fallback;
      if (!(allowed as readonly string[]).includes(raw)) throw new Error(`must be one of ${allowed.join(', ')}, got "${raw}"`);
      return raw as T;
    });
  }

  /**
   * A gRPC target: `host:port`, `[v6]:port`, `dns:///host:port`, `ipv4:a:p,b:p`, `ipv6:…`,
   * `unix:path`, or `none` where a caller allows it. Anything else would start and then fail
   * every call.
   */
  address(name: string, fallback: string): string {
    return this.read(name, (env) => {
      const raw = env[name]?.trim() || fallback;
      if (!isTarget(raw)) throw new Error(`must be host:port (or dns:///host:port, ipv4:host:port,…, unix:path), got "${raw}"`);
      return raw;
    });
  }

  url(name: string, protocols: string[], fallback?: string): string | undefined {
    return this.read(name, (env) => {
      const raw = env[name]?.trim() || fallback;
      if (!raw) return undefined;
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        throw new Error(`must be a URL, got "${raw}"`);
      }
      if (!protocols.includes(parsed.protocol)) throw new Error(`must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
      return raw;
    });
  }

  /** Records a problem found by a cross-field check. */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws a ConfigError naming every problem seen so far. */
  done(): void {
    if (this.problems.length) throw new ConfigError(this.problems);
  }

  private read<T>(name: string, reader: Reader<T>): T {
    try {
      return reader(this.env, name);
    } catch (err) {
      this.problems.push(`${name} ${(err as Error).message}`);
      return undefined as T;
    }
  }
}

/** Runs `read` on a fresh ConfigReader, then throws the one ConfigError of all it found wrong. */
export function readConfig<T>(env: Env, read: (r: ConfigReader) => T): T {
  const r = new ConfigReader(env);
  const config = read(r);
  r.done();
  return config;
}

/** Where a process listens. */
export interface Listen {
  host: string;
  port: number;
}

/** Reads where a service listens: `hostVar` (loopback when unset) and `portVar` (else `port`). */
export function readListen(r: ConfigReader, hostVar: string, portVar: string, port: number): Listen {
  return { host: r.string(hostVar, '127.0.0.1'), port: r.port(portVar, port) };
}

/** Settings every service shares. */
export interface CommonConfig {
  /** Keys accepted, this service's own key, forwarders, TLS, reflection. */
  security: MeshSecurityConfig;
  logLevel: string;
  databaseUrl: string;
  shutdownTimeoutMs: number;
  /** Unset only inside the one-process mesh, which hands services an in-process bus. */
  natsUrl?: string;
  natsPrefix: string;
  dbPoolMax: number;
  dbStatementTimeoutMs: number;
  /** Where Prometheus scrapes this process (GET /metrics); unset: no metrics port. */
  metricsPort?: number;
}

/** A service's settings: the shared ones and where it listens. */
export interface ServiceConfig extends CommonConfig, Listen {}

/** What the one-process mesh (or a test) hands a service instead of environment variables. */
export interface CommonDefaults {
  databaseUrl?: string;
  apiKeys?: string;
  serviceKey?: string;
}

/** Reads the settings every service shares; `self` is its service account, `callsOut` whether it calls other services. */
export function readCommon(r: ConfigReader, self: string, defaults: CommonDefaults = {}, callsOut = false): CommonConfig {
  const { databaseUrl } = defaults;
  return {
    security: readMeshSecurity(r, self, { ...defaults, callsOut }),
    logLevel: r.oneOf('LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    databaseUrl: r.url('DATABASE_URL', ['postgres:', 'postgresql:'], databaseUrl) ?? required(r, 'DATABASE_URL'),
    shutdownTimeoutMs: r.int('SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    natsUrl: r.url('NATS_URL', ['nats:', 'tls:', 'ws:', 'wss:']),
    natsPrefix: readSubjectPrefix(r),
    dbPoolMax: r.int('DB_POOL_MAX', 10, 1, 500),
    // The deadline of every SQL statement a service runs (lock waits included).
    dbStatementTimeoutMs: r.int('DB_STATEMENT_TIMEOUT_MS', 10_000, 50, 600_000),
    metricsPort: r.optionalString('METRICS_PORT') === undefined ? undefined : r.port('METRICS_PORT', 0),
  };
}

function required(r: ConfigReader, name: string): string {
  r.problem(`${name} is required`);
  return '';
}

const HOST_PORT = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const IPV4_PORT = /^\d{1,3}(?:\.\d{1,3}){3}:(\d{1,5})$/;
const portOk = (match: RegExpExecArray | null) => match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65535;

/** Whether `text` is a gRPC target this mesh uses (see ConfigReader.address). */
export function isTarget(text: string): boolean {
  if (text === 'none' || /^unix:\S+$/.test(text) || /^ipv6:\S+$/.test(text)) return true;
  if (text.startsWith('ipv4:')) return text.slice(5).split(',').every((part) => portOk(IPV4_PORT.exec(part)));
  return portOk(HOST_PORT.exec(text.replace(/^dns:(?:\/\/[^/]*)?\//, '')));
}

/** NATS subjects are dot-separated tokens: a prefix with `*`, `>`, spaces or empty tokens would match or make other subjects. */
export function readSubjectPrefix(r: ConfigReader): string {
  const prefix = r.string('NATS_SUBJECT_PREFIX', 'aitbc');
  if (prefix !== undefined && !/^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    r.problem(`NATS_SUBJECT_PREFIX must be letters, digits, "_" or "-", in dot-separated parts, got "${prefix}"`);
  }
  return prefix;
}
