import { BurstyRateLimiter, RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Knex, Migration } from './db';
import type { Logger } from './logger';
import { createRateLimiter } from './rateLimiter';

/** A rate limit by key that may live outside the process (shared by every gateway). */
export interface Limiter {
  /** Spends a token: 0 when the request may go ahead, else the whole seconds to wait. */
  take(key: string): Promise<number>;
  /** Gives back a token `take` spent (what it was spent on turned out not to count). */
  refund(key: string): Promise<void>;
}

/** Makes the limiter named `name` (one table row space each) with a rate and a burst. */
export type LimiterFactory = (name: string, limit: { perSecond: number; burst: number }) => Limiter;

/** Per process: token buckets in memory (one gateway; N gateways would allow N times the rate). */
export const memoryLimiters: LimiterFactory = (_name, { perSecond, burst }) => {
  const buckets = createRateLimiter(perSecond, burst);
  return { take: async (key) => buckets.take(key), refund: async (key) => buckets.refund(key) };
};

export const LIMITS_TABLE = 'rate_limits';

/** The table rate-limiter-flexible keeps its counters in (its own shape), made by migration, not at first use, so two gateways starting together do not race to create it. */
export const limitsMigration: Migration = {
  name: '001_rate_limits',
  async up(db: Knex) {
    await db.raw(`CREATE TABLE ${LIMITS_TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`);
  },
};

/**
 * Shared by every process on one PostgreSQL (rate-limiter-flexible's RateLimiterPostgres:
 * one upsert a request, atomic, so two gateways count into one window). Its counters are
 * fixed windows, not buckets: `perSecond` points a second, and `burst − perSecond` more
 * over `burst / perSecond` seconds for a client that was quiet. A database that fails or is
 * slow does not fail requests: each process then counts in memory (the insurance limiter)
 * until it answers again.
 */
export function postgresLimiters(db: Knex, schema: string, logger: Logger): LimiterFactory {
  return (name, { perSecond, burst }) => {
    const common = { storeClient: db, storeType: 'knex', tableName: LIMITS_TABLE, schemaName: schema, tableCreated: true };
    const steady = new RateLimiterPostgres({
      ...common, keyPrefix: `${name}`, points: perSecond, duration: 1,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${name}`, points: perSecond, duration: 1 }),
    });
    const extra = Math.max(0, burst - perSecond);
    const window = Math.max(1, Math.ceil(burst / perSecond));
    const limiter = extra
      ? new BurstyRateLimiter(steady, new RateLimiterPostgres({
        ...common, keyPrefix: `${name}-burst`, points: extra, duration: window,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${name}-burst`, points: extra, duration: window }),
      }))
      : steady;
    return {
      async take(key) {
        try {
          await limiter.consume(key);
          return 0;
        } catch (err) {
          if (err instanceof RateLimiterRes) return Math.max(1, Math.ceil(err.msBeforeNext / 1000));
          // Neither the store nor the insurance answered: let the request through, say so.
          logger.warn({ err, limiter: name }, 'rate limit could not be checked; request let through');
          return 0;
        }
      },
      async refund(key) {
        await steady.reward(key, 1).catch(() => undefined);
      },
    };
  };
}
