import type { ServiceDefinition } from '@grpc/grpc-js';
import { createKeyStore, parseKeyList } from './apiKeys';
import { type CallAuthenticator, createCallAuthenticator } from './callAuth';
import type { ServiceConfig } from './config';
import { openDb, type Knex, type Migration } from './db';
import type { EventBus } from './events/bus';
import type { ConsumerDeps } from './events/consume';
import { createOutbox, type Outbox } from './events/outbox';
import { createOutboxRelay } from './events/outboxRelay';
import { openServiceBus } from './events/serviceBus';
import { createGrpcServer, type GrpcServer, markServing, type ServiceBinding } from './grpcServer';
import { createLifecycle } from './lifecycle';
import type { Logger } from './logger';
import { metrics } from './metrics';
import { startMetricsServer } from './metricsServer';

/** Something a service runs beside its RPCs (a sweeper, a relay, a consumer). */
export interface Worker {
  name: string;
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

/** What a service's composition gets: its migrated database, its bus and outbox, who calls. */
export interface ServiceContext extends ConsumerDeps {
  outbox: Outbox;
  auth: CallAuthenticator;
}

/** What a service's composition returns. */
export interface ServiceParts {
  bindings: ServiceBinding<any>[];
  /** Bindings served on a second port facing the outside (the registry's miner port). */
  publicPort?: { host: string; port: number; bindings: ServiceBinding<any>[] };
  workers?: Worker[];
  /** Runs first on shutdown, before gRPC drains (e.g. to end open streams). */
  beforeStop?: () => void;
  /** Runs last on shutdown (e.g. to close clients of other services). */
  afterStop?: () => void;
}

export interface ServiceOptions {
  name: string;
  logger: Logger;
  /** Where to listen and which database: the service's config (host, port and CommonConfig). */
  config: ServiceConfig;
  schema: string;
  migrations: Migration[];
  protoFiles: string[];
  /** The bus to use (the one-process mesh hands every service one); else NATS at NATS_URL. */
  bus?: EventBus;
  /** Builds the service's handlers and workers once its database is migrated. */
  build(context: ServiceContext): ServiceParts;
}

export interface RunningService {
  name: string;
  port: number;
  /** The internal gRPC API. */
  address: string;
  /** The public port (host:port), when the service has one. */
  publicAddress?: string;
  /** Where Prometheus scrapes it (METRICS_PORT), when set. */
  metricsAddress?: string;
  /** What each port serves (health aside). */
  served: { address: string; definitions: ServiceDefinition[] }[];
  db: Knex;
  /** Ordered shutdown: health off → end streams → drain gRPC → stop workers → relay → bus → database. */
  stop(): Promise<void>;
}

/**
 * The start-up every service shares: the bus, migrations, the composition, the gRPC
 * server(s), workers, the outbox relay; then health turns SERVING. Nothing reports SERVING
 * before its database and bus are ready, and a failed start stops what it had started.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { logger, config, name } = options;
  const lifecycle = createLifecycle(logger);
  const { bus, close: closeBus } = await openServiceBus(name, config, logger, options.bus);
  let db: Knex | undefined;
  let stoppedDb = false;
  try {
    db = await openDb({
      url: config.databaseUrl, schema: options.schema, migrations: options.migrations, poolMax: config.dbPoolMax,
      statementTimeoutMs: config.dbStatementTimeoutMs, logger,
    });
    const database = db;
    const { security } = config;
    // Services speak to each other with service keys only: a user's key (even an admin's) is
    // checked by the gateway or the miner port against the accounts service, where it can be
    // revoked; the key list in the environment cannot revoke anything, so here it counts only
    // for the mesh's own members.
    const auth = createCallAuthenticator({
      keys: createKeyStore(parseKeyList(security.apiKeys).filter((k) => k.role === 'service')),
      forwarders: new Set(security.forwarders), failedAuth: security.failedAuth,
    });
    const outbox = createOutbox();
    const parts = options.build({ db: database, bus, logger, outbox, auth });
    const serverOptions = { service: name, logger, protoFiles: options.protoFiles, auth, reflection: security.reflection, tls: security.tls };
    const grpcServer = createGrpcServer(serverOptions, parts.bindings);
    const servers: [GrpcServer, ServiceBinding<any>[]][] = [[grpcServer, parts.bindings]];
    lifecycle.onStop('grpc', () => {
      parts.beforeStop?.();
      return grpcServer.stop(config.shutdownTimeoutMs);
    });
    const port = await grpcServer.listen(config.host, config.port);
    const served = [{ address: hostPort(config.host, port), definitions: parts.bindings.map((b) => b.definition) }];
    let publicAddress: string | undefined;
    if (parts.publicPort) {
      const outside = createGrpcServer({ ...serverOptions, publicPort: true }, parts.publicPort.bindings);
      servers.push([outside, parts.publicPort.bindings]);
      lifecycle.onStop('public grpc', () => outside.stop(config.shutdownTimeoutMs));
      publicAddress = hostPort(parts.publicPort.host, await outside.listen(parts.publicPort.host, parts.publicPort.port));
      served.push({ address: publicAddress, definitions: parts.publicPort.bindings.map((b) => b.definition) });
    }
    const relay = createOutboxRelay({ db: database, outbox, schema: options.schema, bus, logger });
    for (const worker of [...(parts.workers ?? []), relay]) {
      lifecycle.onStop(worker.name, () => worker.stop());
      await worker.start();
    }
    lifecycle.onStop('outbox metrics', metrics.watchOutbox(name, database));
    let metricsAddress: string | undefined;
    if (config.metricsPort !== undefined) {
      const server = await startMetricsServer(config.host, config.metricsPort, logger);
      lifecycle.onStop('metrics', () => server.stop());
      metricsAddress = server.address;
    }
    lifecycle.onStop('event bus', closeBus);
    lifecycle.onStop('database', () => {
      stoppedDb = true;
      return database.destroy();
    });
    if (parts.afterStop) lifecycle.onStop('clients', parts.afterStop);
    for (const [server, bound] of servers) markServing(server, bound);
    const address = served[0].address;
    logger.info({ address, publicAddress, metricsAddress }, `${name} serving`);
    return { name, port, address, publicAddress, metricsAddress, served, db: database, stop: () => lifecycle.stop() };
  } catch (err) {
    await lifecycle.stop();
    await closeBus();
    if (db && !stoppedDb) await db.destroy();
    throw err;
  }
}

const hostPort = (host: string, port: number) => `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
