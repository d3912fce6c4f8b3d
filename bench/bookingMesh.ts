import type { BenchFixture } from './support';

export interface BookingMeshOptions {
  /** Environment every service reads (database, NATS, the keys it accepts as AITBC_API_KEYS, pool size). */
  common: Record<string, string> & { AITBC_API_KEYS: string };
  /** Registry, booking and gateway only (bookings at listed prices). */
  core: boolean;
  /** Bookings not paid for (booking without the accounts service's holds). */
  ledger: boolean;
  /** Booking at listed prices: what the Quote call costs. */
  quote: boolean;
  /** The mesh without one consumer of two events per pair: what such a consumer costs. */
  reviews: boolean;
  /** Every part in one process, as `npm start` runs them (each still on its own port). */
  oneProcess: boolean;
}

/**
 * Starts what bench:booking measures. By default each service and the gateway is its own
 * process; `oneProcess` runs `npm start`'s mesh (the market too) on the same PostgreSQL and
 * NATS, which measures what the process boundaries themselves cost on this machine.
 */
export async function startBookingMesh(bench: BenchFixture, o: BookingMeshOptions): Promise<void> {
  const { base } = bench;
  const ports = {
    PORT: String(base), REGISTRY_PORT: String(base + 1), BOOKING_PORT: String(base + 2), REVIEWS_PORT: String(base + 3),
    PRICING_PORT: String(base + 4), ACCOUNTS_PORT: String(base + 5), MARKET_PORT: String(base + 6), MINER_PORT: String(base + 7),
  };
  const addr = (port: string) => `127.0.0.1:${port}`;
  const tuning = { AITBC_OPENING_BALANCE: '1000000', HEARTBEAT_TTL_SECONDS: '86400', RATE_LIMIT_PER_SECOND: '0' };
  if (o.oneProcess) {
    await bench.start('dist/bin/mesh.js', { ...o.common, ...ports, ...tuning }, 'AITBC marketplace mesh is up');
    return;
  }
  const common = { ...o.common, ACCOUNTS_ADDR: addr(ports.ACCOUNTS_PORT) };
  await bench.start('dist/services/accounts/src/main.js', {
    ...common, ACCOUNTS_PORT: ports.ACCOUNTS_PORT, BOOKING_ADDR: addr(ports.BOOKING_PORT), AITBC_OPENING_BALANCE: tuning.AITBC_OPENING_BALANCE,
  }, 'accounts serving');
  await bench.start('dist/services/registry/src/main.js', {
    ...common, REGISTRY_PORT: ports.REGISTRY_PORT, MINER_PORT: ports.MINER_PORT, HEARTBEAT_TTL_SECONDS: tuning.HEARTBEAT_TTL_SECONDS,
  }, 'registry serving');
  // By default the whole mesh, whose pricing quotes every booking and whose consumers share the machine.
  if (!o.core) {
    await bench.start('dist/services/pricing/src/main.js', { ...common, PRICING_PORT: ports.PRICING_PORT }, 'pricing serving');
    if (o.reviews) await bench.start('dist/services/reviews/src/main.js', { ...common, REVIEWS_PORT: ports.REVIEWS_PORT }, 'reviews serving');
  }
  await bench.start('dist/services/booking/src/main.js', {
    ...common, BOOKING_PORT: ports.BOOKING_PORT, REGISTRY_ADDR: addr(ports.REGISTRY_PORT),
    PRICING_ADDR: o.core || !o.quote ? 'none' : addr(ports.PRICING_PORT), ...(o.ledger ? {} : { ACCOUNTS_ADDR: 'none' }),
  }, 'booking serving');
  await bench.start('dist/gateway/src/main.js', {
    PORT: ports.PORT, REGISTRY_ADDR: addr(ports.REGISTRY_PORT), BOOKING_ADDR: addr(ports.BOOKING_PORT), LOG_LEVEL: 'info',
    PRICING_ADDR: addr(ports.PRICING_PORT), REVIEWS_ADDR: addr(ports.REVIEWS_PORT),
    RATE_LIMIT_PER_SECOND: tuning.RATE_LIMIT_PER_SECOND, AITBC_API_KEYS: o.common.AITBC_API_KEYS, ACCOUNTS_ADDR: addr(ports.ACCOUNTS_PORT),
  }, 'gateway listening');
}
