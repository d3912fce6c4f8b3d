import { type CommonDefaults, type Env, readCommon, readConfig, readListen, type ServiceConfig } from '../../../lib/config';
import { PricingServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/pricing';
import { RegistryServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { connect } from '../../../lib/grpcClient';
import { serviceMain } from '../../../lib/lifecycle';
import { serviceStarter, type StartOptions } from '../../../lib/serviceStarter';
import { bookingMigrations } from '../migrations';
import { createExpirySweeper } from './expirySweeper';
import { createGpuReactions } from './gpuReactions';
import { listedPricing, pricingServiceQuotes, type PricingPort } from './pricing';
import { AccountsServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import { createBooker } from './booker';
import { accountsLedger, noLedger } from './ledgerPort';
import { createEndings } from './endings';
import { gpuSnapshotStore } from './gpuSnapshotStore';
import { idempotencyStore } from './idempotencyStore';
import { createJobs } from './jobs';
import { createBookingHandlers } from './rpc';
import { bookingStore } from './store';

export interface BookingConfig extends ServiceConfig {
  registryAddr: string;
  /** Empty: no pricing service (bookings at listed prices). */
  pricingAddr: string;
  pricingDeadlineMs: number;
  expiryIntervalMs: number;
  rpcDeadlineMs: number;
  /** The accounts service that holds each booking's total; empty: no ledger (measurements only). */
  accountsAddr: string;
  /** Service accounts that may see every booking (the accounts service reconciling holds). */
  ledgerAccounts: string[];
  /** Service accounts that may book for clients. */
  agents: string[];
  maxReservations: number;
}

export function readBookingConfig(env: Env, defaults: CommonDefaults & { registryAddr?: string; pricingAddr?: string; accountsAddr?: string } = {}): BookingConfig {
  return readConfig<BookingConfig>(env, (r) => ({
    ...readCommon(r, 'booking', defaults, true),
    ...readListen(r, 'BOOKING_HOST', 'BOOKING_PORT', 50052),
    registryAddr: r.address('REGISTRY_ADDR', defaults.registryAddr ?? '127.0.0.1:50057'),
    // "none": no pricing service at all (every booking at its GPU's listed price).
    pricingAddr: r.address('PRICING_ADDR', defaults.pricingAddr ?? '127.0.0.1:50054').replace(/^none$/, ''),
    // Short: a slow pricing service must not make booking slow (the listed price is used).
    pricingDeadlineMs: r.int('PRICING_DEADLINE_MS', 300, 20, 10_000),
    expiryIntervalMs: r.int('EXPIRY_INTERVAL_MS', 250, 50, 60_000),
    rpcDeadlineMs: r.int('RPC_DEADLINE_MS', 3000, 50, 60_000),
    // "none": bookings are not paid for (only to measure what the ledger costs).
    accountsAddr: r.address('ACCOUNTS_ADDR', defaults.accountsAddr ?? '127.0.0.1:50055').replace(/^none$/, ''),
    ledgerAccounts: r.string('LEDGER_ACCOUNTS', 'accounts').split(',').map((s) => s.trim()).filter(Boolean),
    agents: r.string('BOOKING_AGENTS', 'coordinator,market').split(',').map((s) => s.trim()).filter(Boolean),
    maxReservations: r.int('MAX_RESERVATIONS_PER_CLIENT', 20, 0, 100_000),
  }));
}

/**
 * The booking service's composition root: store, handlers (with a registry client and a
 * pricing port: the pricing service, else listed prices), the expiry sweeper, reactions to GPU events, and the outbox relay.
 */
export const startBooking = serviceStarter<BookingConfig, StartOptions & { pricing?: PricingPort }>({
  name: 'booking',
  migrations: bookingMigrations,
  protoFiles: ['aitbc/marketplace/v1/booking.proto'],
  build: ({ db, bus, outbox, logger }, config, options) => {
    const auth = { key: config.security.serviceKey, tls: config.security.tls, from: 'booking' };
    const registry = connect(RegistryServiceClient, config.registryAddr, config.rpcDeadlineMs, auth);
    const pricingClient = config.pricingAddr ? connect(PricingServiceClient, config.pricingAddr, config.pricingDeadlineMs, auth) : undefined;
    const pricing = options.pricing
      ?? (pricingClient ? pricingServiceQuotes(pricingClient.client, config.pricingDeadlineMs, logger) : listedPricing);
    const accountsClient = config.accountsAddr ? connect(AccountsServiceClient, config.accountsAddr, config.rpcDeadlineMs, auth) : undefined;
    const ledger = accountsClient ? accountsLedger(accountsClient.client, logger) : noLedger;
    const store = bookingStore;
    const booker = createBooker({ db, store, gpus: gpuSnapshotStore, idempotency: idempotencyStore, outbox, registry: registry.client, pricing, ledger, maxReservations: config.maxReservations });
    const jobs = createJobs({ db, store, booker, registry: registry.client });
    const endNow = createEndings({ db, store, outbox });
    return {
      bindings: [createBookingHandlers({ db, store, outbox, booker, endNow, jobs, ledgerAccounts: new Set(config.ledgerAccounts), agents: new Set(config.agents) })],
      workers: [
        createExpirySweeper({ db, store, idempotency: idempotencyStore, outbox, logger, intervalMs: config.expiryIntervalMs }),
        createGpuReactions({ db, bus, logger, store, gpus: gpuSnapshotStore, outbox }),
      ],
      afterStop: () => {
        registry.close();
        pricingClient?.close();
        accountsClient?.close();
      },
    };
  },
});

if (require.main === module) serviceMain('booking', (env) => readBookingConfig(env), (config, logger) => startBooking(config, logger));
