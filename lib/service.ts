import type { ServiceDefinition } from '@grpc/grpc-js';
import type { CommonConfig } from './config';
import { openDb, type Knex, type Migration } from './db';
import { createKeyStore, parseKeyList } from './apiKeys';
import { type CallAuthenticator, createCallAuthenticator } from './callAuth';
import { createGrpcServer, type GrpcServer, markServing, type ServiceBinding } from './grpcServer';
import { createLifecycle } from './lifecycle';
import type { Logger } from './logger';

/** Something a service runs beside its RPCs (a sweeper, a relay, a consumer). */
export interface Worker {
  name: string;
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  name: string;
  logger: Logger;
  /** Where to listen and which database: the service's config (host, port and CommonConfig). */
  config: Pick<CommonConfig, 'databaseUrl' | 'dbPoolMax' | 'dbStatementTimeoutMs' | 'shutdownTimeoutMs' | 'security'> & { host: string; port: number };
  schema: string;
  migrations: Migration[];
  protoFiles: string[];
  /**
   * Builds the service's handlers and workers once its database is migrated. `beforeStop`
   * runs first on shutdown, before gRPC drains (e.g. to end open streams). `publicPort`
   * serves other bindings on a second port facing the outside (the registry's miner port).
   */
  build(db: Knex, auth: CallAuthenticator): {
    bindings: ServiceBinding<any>[];
    publicPort?: { host: string; port: number; bindings: ServiceBinding<any>[] };
    workers?: Worker[];
    beforeStop?: () => void;
  };
}

export interface RunningService {
  name: string;
  port: number;
  /** The internal gRPC API. */
  address: string;
  /** The public port (host:port), when the service has one. */
  publicAddress?: string;
  /** What each port serves (health aside). */
  served: { address: string; definitions: ServiceDefinition[] }[];
  db: Knex;
  /** Ordered shutdown: health off → end streams → drain gRPC → stop workers → close the database. */
  stop(): Promise<void>;
}

/**
 * The start-up every service shares: migrate, build, bind, start workers, then flip health
 * to SERVING. Nothing reports SERVING before its database is ready.
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { logger, config } = options;
  const lifecycle = createLifecycle(logger);
  const db = await openDb({
    url: config.databaseUrl, schema: options.schema, migrations: options.migrations, poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs, logger,
  });
  try {
    const { security } = config;
    const auth = createCallAuthenticator({
      keys: createKeyStore(parseKeyList(security.apiKeys)), forwarders: new Set(security.forwarders), failedAuth: security.failedAuth,
    });
    const { bindings, publicPort, workers = [], beforeStop } = options.build(db, auth);
    const serverOptions = { logger, protoFiles: options.protoFiles, auth, reflection: security.reflection, tls: security.tls };
    const grpcServer = createGrpcServer(serverOptions, bindings);
    const servers: [GrpcServer, ServiceBinding<any>[]][] = [[grpcServer, bindings]];
    const port = await grpcServer.listen(config.host, config.port);
    let publicAddress: string | undefined;
    if (publicPort) {
      const outside = createGrpcServer({ ...serverOptions, publicPort: true }, publicPort.bindings);
      servers.push([outside, publicPort.bindings]);
      lifecycle.onStop('public grpc', () => outside.stop(config.shutdownTimeoutMs));
      publicAddress = hostPort(publicPort.host, await outside.listen(publicPort.host, publicPort.port));
    }
    lifecycle.onStopFirst('grpc', () => {
      beforeStop?.();
      return grpcServer.stop(config.shutdownTimeoutMs);
    });
    for (const worker of workers) {
      lifecycle.onStop(worker.name, () => worker.stop());
      await worker.start();
    }
    lifecycle.onStop('database', () => db.destroy());
    for (const [server, served] of servers) markServing(server, served);
    const address = hostPort(config.host, port);
    logger.info({ address, publicAddress }, `${options.name} serving`);
    const served = [{ address, definitions: bindings.map((b) => b.definition) }];
    if (publicPort) served.push({ address: publicAddress!, definitions: publicPort.bindings.map((b) => b.definition) });
    return { name: options.name, port, address, publicAddress, served, db, stop: () => lifecycle.stop() };
  } catch (err) {
    await lifecycle.stop();
    await db.destroy();
    throw err;
  }
}

const hostPort = (host: string, port: number) => `${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
