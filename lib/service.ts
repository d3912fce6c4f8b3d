import type { CommonConfig } from './config';
import { openDb, type Knex, type Migration } from './db';
import { createGrpcServer, markServing, type ServiceBinding } from './grpcServer';
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
  config: Pick<CommonConfig, 'databaseUrl' | 'dbPoolMax' | 'dbStatementTimeoutMs' | 'shutdownTimeoutMs'> & { host: string; port: number };
  schema: string;
  migrations: Migration[];
  protoFiles: string[];
  /**
   * Builds the service's handlers and workers once its database is migrated. `beforeStop`
   * runs first on shutdown, before gRPC drains (e.g. to end open streams).
   */
  build(db: Knex): { bindings: ServiceBinding<any>[]; workers?: Worker[]; beforeStop?: () => void };
}

export interface RunningService {
  name: string;
  port: number;
  address: string;
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
    const { bindings, workers = [], beforeStop } = options.build(db);
    const grpcServer = createGrpcServer({ logger, protoFiles: options.protoFiles }, bindings);
    const port = await grpcServer.listen(config.host, config.port);
    lifecycle.onStop('grpc', () => {
      beforeStop?.();
      return grpcServer.stop(config.shutdownTimeoutMs);
    });
    for (const worker of workers) {
      lifecycle.onStop(worker.name, () => worker.stop());
      await worker.start();
    }
    lifecycle.onStop('database', () => db.destroy());
    markServing(grpcServer, bindings);
    const address = `${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    logger.info({ address }, `${options.name} serving`);
    return { name: options.name, port, address, db, stop: () => lifecycle.stop() };
  } catch (err) {
    await lifecycle.stop();
    await db.destroy();
    throw err;
  }
}
