import client from 'prom-client';
import type { Knex } from './db';

/**
 * The Prometheus metrics of a process (prom-client), one registry for all the services it
 * runs: `npm start` runs every service in one process, so each series names its `service`.
 * The names are what deploy/grafana's dashboard reads; change them together.
 */
export const metricsRegistry = new client.Registry();

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const registers = [metricsRegistry];

// Each metric registers in metricsRegistry alone, the one /metrics renders (not prom-client's global registry).
const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
  new client.Counter<L>({ name, help, labelNames, registers });
const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
  new client.Histogram<L>({ name, help, labelNames, buckets, registers });
const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect?: () => Promise<void>) =>
  new client.Gauge<L>({ name, help, labelNames, registers, collect });

const grpcServerHandled = counter('aitbc_grpc_server_handled_total', 'gRPC calls answered, by method and status code.', ['service', 'method', 'code']);
const grpcServerSeconds = histogram('aitbc_grpc_server_handling_seconds', 'Time to answer a gRPC call, by method.', ['service', 'method'], SECONDS);
const grpcClientHandled = counter('aitbc_grpc_client_handled_total', 'gRPC calls made to other services, by method and status code.', ['service', 'method', 'code']);
const grpcClientSeconds = histogram('aitbc_grpc_client_handling_seconds', 'Time until another service answered, by method.', ['service', 'method'], SECONDS);
const consumeLag = histogram('aitbc_event_consume_lag_seconds', 'From when an event happened to when a consumer applied it.', ['service', 'consumer'], LAG_SECONDS);
const eventsApplied = counter('aitbc_events_applied_total', 'Events applied by a consumer, by type.', ['service', 'consumer', 'type']);
const sweeperLag = histogram('aitbc_sweeper_lag_seconds',
  'How late a sweeper acted after the moment it acts on (expiry: a booking\'s end; offline: a heartbeat deadline).', ['service', 'sweeper'], LAG_SECONDS);
const heartbeats = counter('aitbc_heartbeats_total', 'Miner heartbeats received.', ['service']);
const minerStreams = gauge('aitbc_miner_streams_open', 'Miner streams open on this process.', ['service']);
const bidMatchLag = histogram('aitbc_bid_match_lag_seconds', 'From the event that woke the bid matcher to the end of its pass.', ['service'], LAG_SECONDS);

const rateLimited = counter('aitbc_gateway_rate_limited_total', 'Requests refused by the per-account rate limit.', ['service']);

const limitFallbacks = counter('aitbc_rate_limit_fallbacks_total',
  'Rate limit checks counted in memory because the shared store did not answer.', ['service', 'limiter']);

const gpuListAnswers = counter('aitbc_gateway_gpu_list_answers_total',
  'GPU list pages answered, by who answered: the gateway\'s replica or the registry.', ['service', 'source']);
/** The replicas of this process (a scrape reports the one registered last). */
let gpuReplicaStats: (() => { gpus: number; ageMs: number }) | undefined;
const gpuReplicaGpus = gauge('aitbc_gateway_gpu_replica_gpus', 'GPUs in the gateway\'s list replica.', ['service'], async () => {
  if (gpuReplicaStats) gpuReplicaGpus.set({ service: 'gateway' }, gpuReplicaStats().gpus);
});
const gpuReplicaAge = gauge('aitbc_gateway_gpu_replica_age_seconds',
  'Since the last complete pass of the list replica began (-1 before its first).', ['service'], async () => {
    if (gpuReplicaStats) gpuReplicaAge.set({ service: 'gateway' }, gpuReplicaStats().ageMs / 1000);
  });

/** Outbox tables to read at scrape time (service → its database, search path on its schema). */
const outboxes = new Map<string, Knex>();
const outboxBacklog = gauge('aitbc_outbox_backlog', 'Events written to the outbox and not yet published.', ['service'], () => readOnce());
const outboxAge = gauge('aitbc_outbox_oldest_age_seconds', 'Age of the oldest unpublished outbox event (0 when none).', ['service'], () => readOnce());
// A scrape collects every metric at once: both gauges share one read.
let reading: Promise<void> | undefined;
const readOnce = () => (reading ??= readOutboxes().finally(() => {
  reading = undefined;
}));

/** Both outbox gauges come from one query per service; a database that does not answer in 1 s is left out of that scrape. */
async function readOutboxes(): Promise<void> {
  outboxBacklog.reset();
  outboxAge.reset();
  await Promise.all([...outboxes].map(async ([service, db]) => {
    try {
      const { rows } = await db.raw(
        `SELECT count(*)::int AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
           FROM outbox WHERE published_at IS NULL`,
      ).timeout(1000);
      outboxBacklog.set({ service }, rows[0].n);
      outboxAge.set({ service }, rows[0].age);
    } catch {
      // A scrape never fails because one database is slow; the gap in the series says it.
    }
  }));
}

let processMetrics = false;

export const metrics = {
  /** Process CPU, memory, event loop lag, GC: once per process. */
  collectProcessMetrics(): void {
    if (processMetrics) return;
    processMetrics = true;
    client.collectDefaultMetrics({ register: metricsRegistry });
  },
  watchOutbox(service: string, db: Knex): () => void {
    outboxes.set(service, db);
    return () => void outboxes.delete(service);
  },
  grpcServer(service: string, method: string, code: string, seconds: number): void {
    grpcServerHandled.inc({ service, method, code });
    grpcServerSeconds.observe({ service, method }, seconds);
  },
  grpcClient(service: string, method: string, code: string, seconds: number): void {
    grpcClientHandled.inc({ service, method, code });
    grpcClientSeconds.observe({ service, method }, seconds);
  },
  eventApplied(consumer: string, type: string, occurredAt: Date | undefined): void {
    // Durable names start with their service's name (booking-gpu-reactions).
    const service = consumer.split('-')[0];
    eventsApplied.inc({ service, consumer, type });
    if (occurredAt) consumeLag.observe({ service, consumer }, Math.max(0, (Date.now() - occurredAt.getTime()) / 1000));
  },
  sweeperLag(service: string, sweeper: 'expiry' | 'offline', dueAt: Date): void {
    sweeperLag.observe({ service, sweeper }, Math.max(0, (Date.now() - dueAt.getTime()) / 1000));
  },
  heartbeats(service: string, n = 1): void {
    heartbeats.inc({ service }, n);
  },
  minerStreams(service: string, delta: 1 | -1): void {
    minerStreams.inc({ service }, delta);
  },
  bidMatchLag(service: string, since: Date): void {
    bidMatchLag.observe({ service }, Math.max(0, (Date.now() - since.getTime()) / 1000));
  },
  rateLimited(service: string): void {
    rateLimited.inc({ service });
  },
  rateLimitFallback(limiter: string): void {
    limitFallbacks.inc({ service: 'gateway', limiter });
  },
  gpuListAnswer(source: 'replica' | 'registry'): void {
    gpuListAnswers.inc({ service: 'gateway', source });
  },
  watchGpuReplica(stats: () => { gpus: number; ageMs: number }): () => void {
    gpuReplicaStats = stats;
    return () => {
      if (gpuReplicaStats === stats) gpuReplicaStats = undefined;
    };
  },
  /** The text exposition of everything above. */
  render: (): Promise<string> => metricsRegistry.metrics(),
  contentType: metricsRegistry.contentType,
};
