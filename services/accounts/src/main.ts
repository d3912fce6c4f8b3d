import { parseKeyList } from '../../../lib/apiKeys';
import { type CommonDefaults, type Env, readCommon, readConfig, readListen, type ServiceConfig } from '../../../lib/config';
import { BookingServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { type ClientHandle, connect } from '../../../lib/grpcClient';
import { serviceMain } from '../../../lib/lifecycle';
import { parseMoney } from '../../../lib/money';
import { serviceStarter, type StartOptions } from '../../../lib/serviceStarter';
import { accountsMigrations } from '../migrations';
import { accountsStore } from './accountsStore';
import { createBookingSettlement } from './bookingSettlement';
import { createHoldReconciler } from './holdReconciler';
import { createLedger } from './ledger';
import { ledgerStore } from './ledgerStore';
import { createAccountsHandlers } from './rpc';
import { seedAccounts } from './seed';

export interface AccountsConfig extends ServiceConfig {
  /** The booking service, asked whether an overdue hold's booking exists. */
  bookingAddr: string;
  feeBp: number;
  openingBalanceMicro: number;
  holdDeadlineMs: number;
  holdGraceMs: number;
  reconcileIntervalMs: number;
  /** Service accounts that may place and release holds. */
  holders: string[];
}

export function readAccountsConfig(env: Env, defaults: CommonDefaults & { bookingAddr?: string } = {}): AccountsConfig {
  return readConfig(env, (r) => {
    const config: AccountsConfig = {
      ...readCommon(r, 'accounts', defaults, true),
      ...readListen(r, 'ACCOUNTS_HOST', 'ACCOUNTS_PORT', 50055),
      bookingAddr: r.address('BOOKING_ADDR', defaults.bookingAddr ?? '127.0.0.1:50052'),
      // The platform's cut of every charge; 0 by default (basis points: 250 is 2.5%).
      feeBp: r.int('PLATFORM_FEE_BP', 0, 0, 10_000),
      openingBalanceMicro: 0,
      // A booking must be made within this of its hold; a pending hold this much past it is checked and given back.
      holdDeadlineMs: r.int('HOLD_DEADLINE_MS', 10_000, 1000, 600_000),
      holdGraceMs: r.int('HOLD_GRACE_MS', 20_000, 0, 3_600_000),
      reconcileIntervalMs: r.int('HOLD_RECONCILE_INTERVAL_MS', 5000, 100, 3_600_000),
      holders: r.string('HOLD_ACCOUNTS', 'booking').split(',').map((s) => s.trim()).filter(Boolean),
    };
    try {
      config.openingBalanceMicro = parseMoney(r.string('AITBC_OPENING_BALANCE', '0'), 'AITBC_OPENING_BALANCE');
    } catch (err) {
      r.problem((err as Error).message);
    }
    return config;
  });
}

/**
 * The accounts service's composition root: accounts and keys (seeded from AITBC_API_KEYS),
 * the ledger, the settlement of booking holds from booking events, and the reconciler of
 * holds whose booking never came.
 */
export const startAccounts = serviceStarter<AccountsConfig, StartOptions & { bookingAddr?: () => string }>({
  name: 'accounts',
  migrations: accountsMigrations,
  protoFiles: ['aitbc/marketplace/v1/accounts.proto'],
  build: ({ db, bus, outbox, logger }, config, options) => {
    // Connected when first needed: in one process the booking service starts after this one.
    let booking: ClientHandle<BookingServiceClient> | undefined;
    const bookingClient = () => (booking ??= connect(BookingServiceClient, options.bookingAddr?.() ?? config.bookingAddr, 3000,
      { key: config.security.serviceKey, tls: config.security.tls, from: 'accounts' })).client;
    const ledger = createLedger({ db, store: ledgerStore, accounts: accountsStore, outbox, feeBp: config.feeBp, holdDeadlineMs: config.holdDeadlineMs });
    return {
      bindings: [createAccountsHandlers({ db, accounts: accountsStore, store: ledgerStore, ledger, outbox, holders: new Set(config.holders) })],
      workers: [
        { name: 'seed', start: () => seedAccounts({ db, accounts: accountsStore, ledger, outbox, logger }, parseKeyList(config.security.apiKeys), config.openingBalanceMicro), stop: async () => undefined },
        createBookingSettlement({ db, bus, logger, ledger }),
        createHoldReconciler({ db, store: ledgerStore, ledger, booking: bookingClient, logger, intervalMs: config.reconcileIntervalMs, graceMs: config.holdGraceMs }),
      ],
      afterStop: () => booking?.close(),
    };
  },
});

if (require.main === module) serviceMain('accounts', (env) => readAccountsConfig(env), (config, logger) => startAccounts(config, logger));
