import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  type Dashboard, type VariableType, DashboardCursorSync, defaultDashboard, FieldColorModeId, ThresholdsMode, VariableHide, VariableRefresh, VariableSort,
} from '@grafana/schema';
import fleet from '../../deploy/grafana/dashboards/aitbc-fleet.json';
import { ROOT } from '../../lib/paths';
import { readGatewayConfig } from '../../gateway/src/main';
import { readRegistryConfig } from '../../services/registry/src/main';
import { readBookingConfig } from '../../services/booking/src/main';
import { readPricingConfig } from '../../services/pricing/src/main';
import { readReviewsConfig } from '../../services/reviews/src/main';
import { readAccountsConfig } from '../../services/accounts/src/main';
import { readMarketConfig } from '../../services/market/src/main';

/*
 * The fleet deployment: docker-compose.yml (two of everything), deploy/prometheus (scraping
 * every replica), deploy/grafana (the data source, the dashboard provider, the dashboard).
 * No Docker engine, Prometheus or Grafana runs here: the files are checked as data.
 */

// ---- The dashboard against Grafana's schema (@grafana/schema), at compile time ----
// `npx tsc --noEmit -p .` type-checks this file, and with it the JSON import. A JSON import's
// type has plain string and number where the schema has literal unions and enums, so:
/** The schema with its literal unions and enums widened to what a JSON import can be. */
type Widened<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean
  : T extends readonly (infer E)[] ? Widened<E>[] : T extends object ? { [K in keyof T]: Widened<T[K]> } : T;
/** J with every key the schema S does not know turned into `never` (a misspelt key fails to compile). */
type Exact<J, S> = unknown extends S ? J
  : J extends readonly (infer JE)[] ? (S extends readonly (infer SE)[] ? Exact<JE, SE>[] : never)
  : J extends object ? ExactObject<J, S> : J;
type ExactObject<J, S> = S extends object ? { [K in keyof J]: K extends keyof S ? Exact<J[K], Exclude<S[K], null | undefined>> : never } : never;
// Required fields present, every field of the kind the schema gives it (the enum values are checked below, at run time).
const shaped = fleet satisfies Widened<Dashboard>;
// No field the schema does not have, at any depth (panels' options and targets are plugin-defined: free).
const exact = fleet satisfies Exact<typeof fleet, Dashboard>;
const dashboard = shaped as unknown as Dashboard;
/** The variable types this dashboard may use: each checked against the schema's VariableType. */
const VARIABLE_TYPES = ['datasource', 'query', 'custom', 'constant', 'interval', 'textbox'] as const satisfies readonly VariableType[];

// ---- The metrics the processes serve (lib/metrics and the gateway) ----
const COMMON = ['service', 'instance', 'job'];
const COUNTERS: Record<string, string[]> = {
  aitbc_grpc_server_handled_total: ['method', 'code'],
  aitbc_grpc_client_handled_total: ['method', 'code'],
  aitbc_events_applied_total: ['consumer', 'type'],
  aitbc_heartbeats_total: [],
  aitbc_gateway_requests_total: ['route', 'method', 'status'],
  aitbc_gateway_rate_limited_total: [],
  process_cpu_seconds_total: [],
};
const GAUGES: Record<string, string[]> = {
  aitbc_outbox_backlog: [],
  aitbc_outbox_oldest_age_seconds: [],
  aitbc_miner_streams_open: [],
  process_resident_memory_bytes: [],
  nodejs_eventloop_lag_p99_seconds: [],
};
const HISTOGRAMS: Record<string, string[]> = {
  aitbc_grpc_server_handling_seconds: ['method'],
  aitbc_grpc_client_handling_seconds: ['method'],
  aitbc_event_consume_lag_seconds: ['consumer'],
  aitbc_sweeper_lag_seconds: ['sweeper'],
  aitbc_bid_match_lag_seconds: [],
  aitbc_gateway_request_duration_seconds: ['route', 'method'],
};
/** Every series name a query may name, with the labels it carries. */
const SERIES = new Map<string, string[]>([
  ...Object.entries({ ...COUNTERS, ...GAUGES }).map(([name, labels]) => [name, [...COMMON, ...labels]] as [string, string[]]),
  ...Object.entries(HISTOGRAMS).flatMap(([name, labels]) => [
    [`${name}_bucket`, [...COMMON, ...labels, 'le']], [`${name}_sum`, [...COMMON, ...labels]], [`${name}_count`, [...COMMON, ...labels]],
  ] as [string, string[]][]),
]);

type AnyPanel = NonNullable<Dashboard['panels']>[number] & { targets?: Array<Record<string, unknown>>; panels?: AnyPanel[] };
const allPanels = (panels: AnyPanel[] = dashboard.panels as AnyPanel[]): AnyPanel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const queryPanels = () => allPanels().filter((p) => p.type !== 'row');
const exprs = () => queryPanels().flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title ?? String(p.id), expr: String(t.expr) })));
/** The series names an expression selects: each is written name{matchers}. */
const selected = (expr: string) => [...expr.matchAll(/([a-zA-Z_:][\w:]*)\{/g)].map((m) => m[1]);

describe('deploy/grafana/dashboards/aitbc-fleet.json', () => {
  const DS = '${datasource}';

  it('is JSON of a current dashboard schema, with its identity', () => {
    const text = readFileSync(path.join(ROOT, 'deploy/grafana/dashboards/aitbc-fleet.json'), 'utf8');
    assert.deepEqual(JSON.parse(text), fleet);
    assert.ok(exact);
    // 39 is Grafana 10.4 / 11.0; Grafana migrates older versions up on load, never down.
    assert.ok(dashboard.schemaVersion >= 39 && dashboard.schemaVersion <= defaultDashboard.schemaVersion!, `schemaVersion ${dashboard.schemaVersion}`);
    assert.match(dashboard.uid ?? '', /^[\w-]{8,40}$/);
    assert.ok(dashboard.title);
    assert.ok(Object.values(DashboardCursorSync).includes(dashboard.graphTooltip!));
    assert.match(dashboard.refresh ?? '', /^\d+[smh]$/);
  });

  it('has a Prometheus data source variable and a service variable read from it', () => {
    const vars = dashboard.templating?.list ?? [];
    assert.deepEqual(new Set(vars.map((v) => v.name)).size, vars.length, 'variable names are unique');
    for (const v of vars) {
      assert.ok((VARIABLE_TYPES as readonly string[]).includes(v.type), `${v.name}: type ${v.type}`);
      if (v.hide !== undefined) assert.ok(Object.values(VariableHide).includes(v.hide), `${v.name}: hide`);
      if (v.refresh !== undefined) assert.ok(Object.values(VariableRefresh).includes(v.refresh), `${v.name}: refresh`);
      if (v.sort !== undefined) assert.ok(Object.values(VariableSort).includes(v.sort), `${v.name}: sort`);
    }
    const datasource = vars.find((v) => v.name === 'datasource');
    assert.equal(datasource?.type, 'datasource');
    assert.equal(datasource?.query, 'prometheus');
    const service = vars.find((v) => v.name === 'service');
    assert.equal(service?.type, 'query');
    assert.deepEqual(service?.datasource, { type: 'prometheus', uid: DS });
    const query = typeof service?.query === 'string' ? service.query : String(service?.query?.query);
    const m = /^label_values\((\w+), service\)$/.exec(query);
    assert.ok(m && SERIES.has(m[1]), `service values from a known series: ${query}`);
    assert.ok(service?.includeAll && service.multi && service.allValue === '.*', 'All selects every service (=~".*")');
  });

  it('gives every panel a unique id and a place on the grid, without overlaps', () => {
    const panels = allPanels();
    const ids = panels.map((p) => p.id);
    assert.ok(ids.every((id) => Number.isInteger(id)), 'every panel has an id');
    assert.equal(new Set(ids).size, ids.length, `ids are unique: ${ids.join(',')}`);
    const taken = new Map<string, string>();
    for (const p of panels) {
      const g = p.gridPos;
      assert.ok(g, `${p.title}: gridPos`);
      for (const k of ['x', 'y', 'w', 'h'] as const) assert.ok(Number.isInteger(g[k]) && g[k] >= 0, `${p.title}: gridPos.${k}`);
      assert.ok(g.w >= 1 && g.h >= 1 && g.x + g.w <= 24, `${p.title}: within the 24 columns`);
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        const other = taken.get(`${x},${y}`);
        assert.ok(!other, `${p.title} overlaps ${other}`);
        taken.set(`${x},${y}`, p.title ?? '');
      }
    }
  });

  it('draws only time series and stats, each querying the chosen data source', () => {
    for (const p of queryPanels()) {
      assert.ok(['timeseries', 'stat'].includes(p.type), `${p.title}: type ${p.type}`);
      assert.ok(p.title && (p as { description?: string }).description, `${p.id}: title and description`);
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: DS }, `${p.title}: panel data source`);
      const targets = p.targets ?? [];
      assert.ok(targets.length >= 1, `${p.title}: queries`);
      assert.equal(new Set(targets.map((t) => t.refId)).size, targets.length, `${p.title}: refIds unique`);
      for (const t of targets) {
        assert.deepEqual(t.datasource, { type: 'prometheus', uid: DS }, `${p.title}: target data source`);
        assert.equal(typeof t.expr, 'string');
      }
      const defaults = (p as { fieldConfig?: { defaults?: { color?: { mode?: string }; thresholds?: { mode?: string; steps?: unknown[] }; unit?: string } } }).fieldConfig?.defaults;
      assert.ok(defaults?.unit, `${p.title}: unit`);
      if (defaults?.color?.mode) assert.ok((Object.values(FieldColorModeId) as string[]).includes(defaults.color.mode), `${p.title}: color mode`);
      if (defaults?.thresholds) assert.ok((Object.values(ThresholdsMode) as string[]).includes(defaults.thresholds.mode ?? ''), `${p.title}: thresholds mode`);
    }
    for (const p of allPanels().filter((r) => r.type === 'row')) assert.ok(p.title, `row ${p.id}: title`);
  });

  it('names only the metrics the processes serve, with their labels, filtered by $service', () => {
    for (const { panel, expr } of exprs()) {
      const names = selected(expr);
      assert.ok(names.length, `${panel}: ${expr} selects a series`);
      for (const name of names) assert.ok(SERIES.has(name), `${panel}: unknown series ${name}`);
      // Nothing named bare (without a selector), which the check above would miss.
      for (const [bare] of expr.matchAll(/\b(?:aitbc|process|nodejs)_\w+/g)) assert.ok(names.includes(bare), `${panel}: ${bare} without {…}`);
      const selectors = [...expr.matchAll(/[a-zA-Z_:][\w:]*\{([^}]*)\}/g)].map((m) => m[1]);
      for (const s of selectors) assert.match(s, /(^|, )service=~"\$service"(,|$)/, `${panel}: ${expr} filters by the service variable`);
      const known = new Set(names.flatMap((n) => SERIES.get(n) ?? []));
      for (const [, group] of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of group.split(',').map((l) => l.trim())) assert.ok(known.has(label), `${panel}: ${expr} groups by ${label}, which ${names.join(', ')} lack`);
      }
      for (const name of names) {
        const histogram = name.replace(/_(bucket|sum|count)$/, '');
        const ranged = new RegExp(`rate\\(${name}\\{[^}]*\\}\\[\\$__rate_interval\\]\\)`).test(expr);
        if (name in COUNTERS || name !== histogram) assert.ok(ranged, `${panel}: ${name} is read as rate(…[$__rate_interval])`);
        if (name in GAUGES) assert.ok(!expr.includes(`rate(${name}`), `${panel}: ${name} is a gauge`);
        if (name.endsWith('_bucket')) {
          const quantile = new RegExp(`histogram_quantile\\(0\\.99, sum by \\(le(, [\\w, ]+)?\\) \\(rate\\(${name}\\{`);
          assert.match(expr, quantile, `${panel}: ${name} as the p99 of summed rates by le`);
        }
      }
    }
  });

  it('shows each metric the fleet serves in some panel', () => {
    const used = new Set(exprs().flatMap(({ expr }) => selected(expr)).map((n) => n.replace(/_bucket$/, '')));
    for (const name of [...Object.keys(COUNTERS), ...Object.keys(GAUGES), ...Object.keys(HISTOGRAMS)]) assert.ok(used.has(name), `${name} has no panel`);
    // The sweepers are told apart by label: one curve each.
    const sweeper = exprs().find(({ expr }) => expr.includes('aitbc_sweeper_lag_seconds_bucket'));
    assert.match(sweeper?.expr ?? '', /by \(le, sweeper\)/);
  });
});

// ---- docker-compose.yml, deploy/prometheus, deploy/grafana/provisioning ----
interface ComposeService {
  build?: string; image?: string; command?: string[]; environment?: Record<string, string>; ports?: string[]; volumes?: string[];
  deploy?: { replicas?: number }; networks?: Record<string, { aliases?: string[] } | null>; depends_on?: unknown;
}
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };
const prometheus = parse(readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
  scrape_configs: { job_name: string; metrics_path?: string; dns_sd_configs?: { names: string[]; type?: string; port: number }[] }[];
};
const apps = Object.entries(compose.services).filter(([, s]) => s.build);
/** What each DNS name on the compose network answers with: its service's containers, and those of the services carrying it as an alias. */
const dnsNames = new Map<string, string[]>();
for (const [name, s] of apps) {
  for (const dns of [name, ...Object.values(s.networks ?? {}).flatMap((n) => n?.aliases ?? [])]) dnsNames.set(dns, [...(dnsNames.get(dns) ?? []), name]);
}
const containers = (names: string[]) => names.reduce((n, name) => n + (compose.services[name].deploy?.replicas ?? 1), 0);
/** A name answering for two or more containers of one entry point: the replicated services. */
const fleets = [...dnsNames].filter(([, names]) => containers(names) >= 2);
const entry = (s: ComposeService) => s.command?.[1] ?? '';
/** Each app container's config reader: its environment must pass start-up validation. */
const READERS: Record<string, (env: Record<string, string>) => unknown> = {
  'dist/services/registry/src/main.js': (env) => readRegistryConfig(env),
  'dist/gateway/src/main.js': (env) => readGatewayConfig(env),
  'dist/services/booking/src/main.js': (env) => readBookingConfig(env),
  'dist/services/pricing/src/main.js': (env) => readPricingConfig(env),
  'dist/services/reviews/src/main.js': (env) => readReviewsConfig(env),
  'dist/services/accounts/src/main.js': (env) => readAccountsConfig(env),
  'dist/services/market/src/main.js': (env) => readMarketConfig(env),
};
const METRICS_PORT = '9464';

describe('docker-compose.yml as a fleet', () => {
  it('runs two containers of every service and of the gateway, each under one DNS name', () => {
    const byEntry = new Map<string, string[]>();
    for (const [name, s] of apps) byEntry.set(entry(s), [...(byEntry.get(entry(s)) ?? []), name]);
    assert.deepEqual([...byEntry.keys()].sort(), Object.keys(READERS).sort());
    for (const [file, names] of byEntry) {
      assert.equal(containers(names), 2, `${file}: ${names.join(', ')}`);
      // The containers of one entry point answer to one name: `deploy: replicas: 2`, or two services sharing an alias.
      assert.ok(fleets.some(([, fleet]) => fleet.length === names.length && names.every((n) => fleet.includes(n))), `${file}: one name for ${names.join(', ')}`);
      const envs = names.map((n) => JSON.stringify(compose.services[n].environment));
      assert.ok(envs.every((e) => e === envs[0]), `${file}: the same settings in each`);
    }
  });

  it('starts each container from a real entry point of the one image, bound to the network, on the compose database and bus', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /RUN npm run build/);
    assert.match(dockerfile, /COPY --from=build \/app\/proto/);
    for (const [name, s] of apps) {
      assert.equal(s.build, '.', name);
      const [node, file] = s.command ?? [];
      assert.equal(node, 'node', name);
      // dist/x.js is compiled from x.ts by `npm run build` (which the Dockerfile runs).
      const source = path.join(ROOT, file.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
      assert.ok(existsSync(source), `${name}: ${file} has no source ${source}`);
      assert.match(readFileSync(source, 'utf8'), /require\.main === module/, `${name}: ${file} does not start when run`);
      const env = s.environment ?? {};
      for (const [k, v] of Object.entries(env)) if (k === 'HOST' || k.endsWith('_HOST')) assert.equal(v, '0.0.0.0', `${name}: ${k}`);
      if (env.DATABASE_URL) assert.match(env.DATABASE_URL, /@postgres:5432\//, name);
      if (env.NATS_URL) assert.equal(env.NATS_URL, 'nats://nats:4222', name);
      if (file !== 'dist/gateway/src/main.js') assert.ok(env.DATABASE_URL && env.NATS_URL, `${name}: database and bus`);
    }
  });

  it('calls every service at dns:///NAME:PORT, a name that answers with all its replicas on the port they listen on', () => {
    let seen = 0;
    for (const [name, s] of apps) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (!key.endsWith('_ADDR')) continue;
        seen++;
        const m = /^dns:\/\/\/([a-z][\w-]*):(\d+)$/.exec(value);
        assert.ok(m, `${name}: ${key}=${value} is not dns:///host:port`);
        const [, host, port] = m;
        const targets = dnsNames.get(host);
        assert.ok(targets, `${name}: ${key} names ${host}, no service on the network`);
        assert.equal(containers(targets), 2, `${name}: ${key} reaches both replicas`);
        const listenKey = key.replace(/_ADDR$/, '_PORT');
        for (const t of targets) assert.equal(compose.services[t].environment?.[listenKey], port, `${name}: ${key} → ${t} ${listenKey}`);
      }
    }
    assert.ok(seen >= 10, 'the services call each other');
  });

  it('serves metrics from every service container on METRICS_PORT', () => {
    for (const [name, s] of apps) {
      if (entry(s) === 'dist/gateway/src/main.js') continue; // GET /metrics on its HTTP port
      assert.equal(s.environment?.METRICS_PORT, METRICS_PORT, name);
    }
  });

  it('publishes fixed host ports only from single containers: two gateways and two miner ports', () => {
    const published = new Map<string, string>();
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.ports?.length) continue;
      assert.ok((s.deploy?.replicas ?? 1) === 1, `${name}: replicas cannot share a host port`);
      for (const p of s.ports) {
        const [host, container] = p.split(':');
        assert.ok(!published.has(host), `host port ${host} twice`);
        published.set(host, `${name}:${container}`);
      }
    }
    const gateways = apps.filter(([, s]) => entry(s) === 'dist/gateway/src/main.js');
    const registries = apps.filter(([, s]) => entry(s) === 'dist/services/registry/src/main.js');
    assert.deepEqual(gateways.map(([, s]) => s.ports?.[0].split(':')[0]), ['8080', '8081']);
    for (const [name, s] of gateways) assert.equal(s.ports?.[0].split(':')[1], s.environment?.PORT, name);
    assert.deepEqual(registries.map(([, s]) => s.ports?.[0].split(':')[0]), ['50051', '50052']);
    for (const [name, s] of registries) {
      assert.equal(s.ports?.[0].split(':')[1], s.environment?.MINER_PORT, `${name}: the miner port, not the internal one`);
      assert.notEqual(s.environment?.REGISTRY_PORT, s.environment?.MINER_PORT);
    }
    assert.equal(published.get('9090'), 'prometheus:9090');
    assert.equal(published.get('3000'), 'grafana:3000');
    assert.equal([...published.keys()].length, 6, [...published.keys()].join(','));
  });

  it('passes each container an environment its start-up validation accepts', () => {
    const given: Record<string, string> = {
      AITBC_API_KEYS: 'admin:ops:compose-test-key-0000000000', AITBC_GATEWAY_KEY: 'compose-gateway-key-0000000000', AITBC_BOOKING_KEY: 'compose-booking-key-0000000000',
      AITBC_REGISTRY_KEY: 'compose-registry-key-000000000', AITBC_ACCOUNTS_KEY: 'compose-accounts-key-000000000', AITBC_MARKET_KEY: 'compose-market-key-0000000000',
    };
    for (const [name, s] of apps) {
      const env: Record<string, string> = {};
      // Compose substitutes ${VAR:?…} and ${VAR:-default} from the caller's environment.
      for (const [k, v] of Object.entries(s.environment ?? {})) {
        env[k] = String(v).replace(/\$\{(\w+):\?[^}]*\}/g, (_, n: string) => given[n] ?? '').replace(/\$\{(\w+):-([^}]*)\}/g, (_, n: string, d: string) => given[n] ?? d);
      }
      assert.doesNotThrow(() => READERS[entry(s)](env), name);
    }
  });

  it('gives PostgreSQL room for every container\'s pool', () => {
    const pools = apps.reduce((n, [name, s]) => n + containers([name]) * Number(s.environment?.DB_POOL_MAX ?? 10), 0);
    const command = compose.services.postgres.command ?? [];
    const max = Number(/max_connections=(\d+)/.exec(command.join(' '))?.[1] ?? 100);
    assert.ok(max >= pools + 20, `max_connections ${max} for ${pools} pooled connections`);
  });

  it('runs Prometheus and Grafana on their files under deploy/', () => {
    assert.match(compose.services.prometheus.image ?? '', /^prom\/prometheus:/);
    assert.ok(compose.services.prometheus.volumes?.includes('./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro'));
    assert.match(compose.services.grafana.image ?? '', /^grafana\/grafana:1[0-2]\./);
    assert.ok(compose.services.grafana.volumes?.includes('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro'));
    assert.ok(compose.services.grafana.volumes?.includes('./deploy/grafana/dashboards:/etc/grafana/dashboards:ro'));
  });
});

describe('deploy/prometheus and deploy/grafana/provisioning', () => {
  it('scrapes every replica of every service by DNS, and the gateways\' /metrics', () => {
    const scraped = new Map<string, { port: number; path: string }>();
    for (const job of prometheus.scrape_configs) {
      for (const sd of job.dns_sd_configs ?? []) {
        assert.equal(sd.type, 'A', `${job.job_name}: one target per A record, one per container`);
        for (const name of sd.names) scraped.set(name, { port: sd.port, path: job.metrics_path ?? '/metrics' });
      }
    }
    for (const [dns, names] of fleets) {
      const s = compose.services[names[0]];
      const want = entry(s) === 'dist/gateway/src/main.js' ? s.environment?.PORT : s.environment?.METRICS_PORT;
      assert.deepEqual(scraped.get(dns), { port: Number(want), path: '/metrics' }, `${dns} is scraped`);
    }
    assert.equal(fleets.length, 7, fleets.map(([dns]) => dns).join(','));
  });

  it('gives Grafana the compose Prometheus as the dashboard\'s data source, and loads the dashboards folder', () => {
    const ds = parse(readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as {
      apiVersion: number; datasources: { uid: string; type: string; url: string; isDefault?: boolean; jsonData?: { timeInterval?: string } }[];
    };
    assert.equal(ds.apiVersion, 1);
    const [prom] = ds.datasources;
    assert.equal(prom.type, 'prometheus');
    assert.equal(prom.url, 'http://prometheus:9090');
    assert.ok(prom.isDefault);
    const current = dashboard.templating?.list?.find((v) => v.name === 'datasource')?.current;
    assert.equal(current?.value, prom.uid, 'the data source variable starts on it');
    // $__rate_interval is four times this: rates over at least four scrapes.
    const scrape = (parse(readFileSync(path.join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as { global: { scrape_interval: string } }).global.scrape_interval;
    assert.equal(prom.jsonData?.timeInterval, scrape);

    const boards = parse(readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/dashboards/aitbc.yml'), 'utf8')) as {
      apiVersion: number; providers: { type: string; options: { path: string } }[];
    };
    assert.equal(boards.apiVersion, 1);
    assert.equal(boards.providers[0].type, 'file');
    const mount = compose.services.grafana.volumes?.find((v) => v.startsWith('./deploy/grafana/dashboards:'))?.split(':')[1];
    assert.equal(boards.providers[0].options.path, mount);
  });
});
