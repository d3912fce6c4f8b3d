import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { Knex, Migration } from './db';
import type { Logger } from './logger';
import { metrics } from './metrics';
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
 * fixed windows, not buckets: `burst` rounded to whole seconds of the rate makes the window
 * (200/s with a burst of 400: 400 requests per 2 s), so the sustained rate is the configured
 * one and a quiet client may spend its burst at once. (Two windows, a steady one and a burst
 * one, let 1.5 times the rate through: an adversary measured 7.5/s against 5/s.) Across a
 * window's edge up to twice a window's points can pass within moments. A database that
 * fails or is slow does not fail requests: each process then counts in memory (the
 * insurance limiter) until it answers, says so in its log (once a minute) and counts it in
 * `aitbc_rate_limit_fallbacks_total`.
 */
export function postgresLimiters(db: Knex, schema: string, logger: Logger): LimiterFactory {
  return (name, { perSecond, burst }) => {
    const seconds = Math.max(1, Math.round(burst / perSecond));
    const points = perSecond * seconds;
    let warnedAt = 0;
    const fellBack = () => {
      metrics.rateLimitFallback(name);
      if (Date.now() - warnedAt < 60_000) return;
      warnedAt = Date.now();
      logger.warn({ limiter: name }, 'the shared rate limit store did not answer; this gateway counts alone (in memory) until it does');
    };
    // The insurance limiter is asked only when the store fails: that is the moment to say so.
    const insurance = new (class extends RateLimiterMemory {
      override consume(...args: Parameters<RateLimiterMemory['consume']>) {
        fellBack();
        return super.consume(...args);
      }
    })({ keyPrefix: name, points, duration: seconds });
    const limiter = new RateLimiterPostgres({
      storeClient: db, storeType: 'knex', tableName: LIMITS_TABLE, schemaName: schema, tableCreated: true,
      keyPrefix: name, points, duration: seconds, insuranceLimiter: insurance,
    });
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
        await limiter.reward(key, 1).catch(() => undefined);
      },
    };
  };
}
