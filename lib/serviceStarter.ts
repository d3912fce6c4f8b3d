import type { Migration } from './db';
import type { EventBus } from './events/bus';
import { createLogger, type Logger } from './logger';
import type { ServiceConfig } from './config';
import { type RunningService, type ServiceContext, type ServiceParts, startService } from './service';

/** What every service's start function may be handed besides its config. */
export interface StartOptions {
  /** The one-process mesh hands every service its bus; else NATS at NATS_URL. */
  bus?: EventBus;
}

/** What tells one service apart from another at start-up. */
export interface ServiceSpec<C extends ServiceConfig, O extends StartOptions> {
  /** Its service account, its logger's name and its database schema. */
  name: string;
  migrations: Migration[];
  protoFiles: string[];
  /** Builds its handlers and workers once its database is migrated. */
  build(context: ServiceContext, config: C, options: Partial<O>): ServiceParts;
}

/**
 * A service's start function, `(config, logger?, options?)`: the one shape the mesh, the
 * entry points and the tests call. Every service names its default logger and its schema
 * after itself and uses the bus it is handed, so only what differs is in `spec`.
 */
export function serviceStarter<C extends ServiceConfig, O extends StartOptions = StartOptions>(
  spec: ServiceSpec<C, O>,
): (config: C, logger?: Logger, options?: Partial<O>) => Promise<RunningService> {
  return (config, logger = createLogger(spec.name, config.logLevel), options = {}) => startService({
    name: spec.name,
    logger,
    config,
    schema: spec.name,
    migrations: spec.migrations,
    protoFiles: spec.protoFiles,
    bus: options.bus,
    build: (context) => spec.build(context, config, options),
  });
}
