import { type CommonDefaults, type Env, readCommon, readConfig, readListen, type ServiceConfig } from '../../../lib/config';
import { parseMoney } from '../../../lib/money';
import { serviceMain } from '../../../lib/lifecycle';
import { serviceStarter } from '../../../lib/serviceStarter';
import { registryMigrations } from '../migrations';
import { createBookingProjection } from './bookingProjection';
import { createRatingProjection } from './ratingProjection';
import { createLiveness } from './liveness';
import { createMinerSessions } from './minerSessions';
import { AccountsServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import { connect } from '../../../lib/grpcClient';
import { accountsKeyDirectory } from '../../../lib/keyDirectory';
import { createOfflineSweeper } from './offlineSweeper';
import { createHeartbeatDeadlines } from './heartbeatDeadlines';
import { createRegistryHandlers } from './rpc';
import { projectionStore } from './projectionStore';
import { registryStore } from './store';

/** Its host and port serve the internal API (RegistryService): the gateway, services and the coordinator. */
export interface RegistryConfig extends ServiceConfig {
  /** The public miner port (MinerService and health only). */
  minerHost: string;
  minerPort: number;
  heartbeatTtlSeconds: number;
  heartbeatIntervalSeconds: number;
  heartbeatFlushMs: number;
  defaultPriceMicro: number;
  /** The accounts service, which miner keys are checked with. */
  accountsAddr: string;
}

/** Reads the registry's settings; `defaults` lets the mesh supply a database URL. */
export function readRegistryConfig(env: Env, defaults: CommonDefaults & { accountsAddr?: string } = {}): RegistryConfig {
  return readConfig(env, (r) => {
    const common = readCommon(r, 'registry', defaults, true);
    const heartbeatTtlSeconds = r.int('HEARTBEAT_TTL_SECONDS', 30, 2, 86_400);
    const config: RegistryConfig = {
      ...common,
      ...readListen(r, 'REGISTRY_HOST', 'REGISTRY_PORT', 50057),
      minerHost: r.string('MINER_HOST', '127.0.0.1'),
      minerPort: r.port('MINER_PORT', 50051),
      accountsAddr: r.address('ACCOUNTS_ADDR', defaults.accountsAddr ?? '127.0.0.1:50055'),
      heartbeatTtlSeconds,
      heartbeatIntervalSeconds: r.int('HEARTBEAT_INTERVAL_SECONDS', Math.max(1, Math.floor(heartbeatTtlSeconds / 3)), 1, 86_400),
      heartbeatFlushMs: r.int('HEARTBEAT_FLUSH_MS', 1000, 50, 10_000),
      defaultPriceMicro: 0,
    };
    try {
      config.defaultPriceMicro = parseMoney(r.string('DEFAULT_PRICE_PER_HOUR', '1'), 'DEFAULT_PRICE_PER_HOUR');
      if (config.defaultPriceMicro <= 0) r.problem('DEFAULT_PRICE_PER_HOUR must be greater than 0');
    } catch (err) {
      r.problem((err as Error).message);
    }
    if (config.heartbeatIntervalSeconds >= heartbeatTtlSeconds) {
      r.problem('HEARTBEAT_INTERVAL_SECONDS must be shorter than HEARTBEAT_TTL_SECONDS');
    }
    return config;
  });
}

/**
 * The registry's composition root: store, handlers (the internal API, and the miner stream on
 * the public port), liveness, the offline sweeper and the projections of booking and review
 * events (`options.bus` when the mesh hands one over).
 */
export const startRegistry = serviceStarter<RegistryConfig>({
  name: 'registry',
  migrations: registryMigrations,
  protoFiles: ['aitbc/marketplace/v1/registry.proto', 'aitbc/marketplace/v1/miner.proto'],
  build: ({ db, bus, outbox, logger }, config) => {
    const accounts = connect(AccountsServiceClient, config.accountsAddr, 3000, { key: config.security.serviceKey, tls: config.security.tls, from: 'registry' });
    const store = registryStore;
    const deadlines = createHeartbeatDeadlines();
    const liveness = createLiveness({ db, store, outbox, logger, flushMs: config.heartbeatFlushMs, deadlines });
    const common = { db, store, outbox, liveness, defaultPriceMicro: config.defaultPriceMicro, heartbeatIntervalSeconds: config.heartbeatIntervalSeconds };
    const miners = createMinerSessions({ ...common, bus, logger, keys: accountsKeyDirectory(accounts.client), failedAuth: config.security.failedAuth });
    return {
      bindings: [createRegistryHandlers(common)],
      publicPort: { host: config.minerHost, port: config.minerPort, bindings: [miners.binding] },
      beforeStop: miners.abortAll,
      afterStop: () => accounts.close(),
      workers: [
        liveness,
        createOfflineSweeper({ db, store, outbox, logger, ttlSeconds: config.heartbeatTtlSeconds, intervalMs: 500, deadlines }),
        createBookingProjection({ db, bus, logger, store: projectionStore }),
        createRatingProjection({ db, bus, logger, store: projectionStore }),
      ],
    };
  },
});

if (require.main === module) serviceMain('registry', (env) => readRegistryConfig(env), (config, logger) => startRegistry(config, logger));
