import { afterCommit, type Knex } from '../../../lib/db';
import { type EventEnvelope, newEvent } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import type { Logger } from '../../../lib/logger';
import type { Worker } from '../../../lib/service';
import { BP } from './domain/demandPricing';
import { nextModelState, type PricingParams } from './domain/modelState';
import type { ModelRow, PricePointRow, PricingStore } from './store';

/**
 * Whether a model's new state changes nothing a reader sees and its smoothed utilisation has
 * reached what it follows: an idle market then costs no writes, tick after tick.
 */
function settled(prev: ModelRow, next: ModelRow): boolean {
  if (Math.abs(next.utilization - next.instant_utilization_bp / BP) > 1e-4) return false;
  const same = (a: unknown, b: unknown) => (a instanceof Date || b instanceof Date ? String(a) === String(b) : a === b);
  return (Object.keys(next) as (keyof ModelRow)[])
    .every((k) => k === 'utilization' || k === 'computed_at' || same(prev[k], next[k]));
}

const RECENT_WINDOW_MS = 3600 * 1000;
const FAIR_BAND_WINDOW_MS = 7 * 24 * 3600 * 1000;

export interface PriceBook extends Worker {
  /**
   * Recomputes the named models (all when none are named) in `db` (a transaction of the
   * caller's, or its own): supply and demand are counted, model rows locked and rewritten,
   * history points and price.changed events written with them.
   */
  recompute(db: Knex, keys?: string[], reason?: string): Promise<ModelRow[]>;
  /** Asks for a recomputation of a model soon (its events arrived); many pokes make one run. */
  poke(key: string): void;
  /**
   * A model's state as this process last computed (and committed) it: what reads and quotes
   * use, so they cost no database round trip. At most one tick old.
   */
  current(key: string): ModelRow | undefined;
}

export interface PriceBookOptions {
  db: Knex;
  store: PricingStore;
  outbox: Outbox;
  logger: Logger;
  params: PricingParams;
  /** The timer: models are recomputed this often even when no event arrives. */
  tickMs: number;
  /** How long to gather events before recomputing the models they touched. */
  debounceMs?: number;
  retentionMs: number;
  now?: () => Date;
}

/** The pricing engine: keeps every model's price current, on events and on a timer. */
export function createPriceBook(options: PriceBookOptions): PriceBook {
  const { db, store, outbox, logger, params } = options;
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let again = false;
  // Models whose events arrived since the last run, and whether the timer asked for all.
  // (A failed run forgets its models: the next tick reprices every model anyway.)
  let dirty = new Set<string>();
  let all = false;
  let stopped = false;
  let lastPrune = 0;
  const cache = new Map<string, ModelRow>();

  async function recompute(trx: Knex, keys?: string[], reason = 'demand'): Promise<ModelRow[]> {
    const at = now();
    const [supply, demand, previous] = [
      await store.supply(trx, at, keys),
      await store.demand(trx, new Date(at.getTime() - RECENT_WINDOW_MS), new Date(at.getTime() - FAIR_BAND_WINDOW_MS), keys),
      await store.lockModels(trx, keys),
    ];
    const prevByKey = new Map(previous.map((r) => [r.model_key, r]));
    const supplyByKey = new Map(supply.map((s) => [s.model_key, s]));
    const demandByKey = new Map(demand.map((d) => [d.model_key, d]));
    const models = [...new Set([...prevByKey.keys(), ...supplyByKey.keys(), ...(keys ?? [])])].sort();
    const out: ModelRow[] = [];
    const changed: ModelRow[] = [];
    const points: PricePointRow[] = [];
    const events: EventEnvelope[] = [];
    for (const key of models) {
      const prev = prevByKey.get(key);
      if (!prev && !supplyByKey.has(key)) continue;
      const next = nextModelState(key, prev, supplyByKey.get(key), demandByKey.get(key), at, params);
      if (prev && !next.point && settled(prev, next.row)) {
        // No write; the next computation smooths from the stored time, over the longer
        // interval, which comes to the same as stepping through it.
        out.push(prev);
        continue;
      }
      changed.push(next.row);
      if (next.point) points.push(next.point);
      if (next.moved) {
        events.push(newEvent('price.changed', 'pricing', key, {
          modelKey: key, previousPriceMicro: next.moved.previousPriceMicro, priceMicro: next.row.current_price_micro,
          basePriceMicro: next.row.base_price_micro, multiplierBp: next.row.multiplier_bp,
          utilizationBp: next.point!.utilization_bp, reason,
        }));
      }
      out.push(next.row);
    }
    // One statement each for every model's row, the history points and the events.
    await store.saveModels(trx, changed);
    await store.addPoints(trx, points);
    await outbox.enqueue(trx, events);
    afterCommit(trx, () => {
      for (const row of out) cache.set(row.model_key, row);
    });
    return out;
  }

  async function runOnce(keys?: string[]): Promise<void> {
    await db.transaction((trx) => recompute(trx, keys));
    const at = now().getTime();
    if (at - lastPrune > 600_000) {
      lastPrune = at;
      await store.pruneHistory(db, new Date(at - options.retentionMs));
      await store.pruneBookings(db, new Date(at - FAIR_BAND_WINDOW_MS - RECENT_WINDOW_MS));
    }
  }

  /** One run at a time; a request during a run makes one more run after it. */
  function run(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    const keys = all ? undefined : [...dirty];
    dirty = new Set();
    all = false;
    if (keys && !keys.length) return;
    running = runOnce(keys)
      .catch((err) => logger.error({ err }, 'price recomputation failed'))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          run();
        }
      });
  }

  return {
    name: 'price book',
    recompute,
    current: (key) => cache.get(key),
    poke(key) {
      dirty.add(key);
      if (stopped || soon) return;
      soon = setTimeout(() => {
        soon = undefined;
        run();
      }, options.debounceMs ?? 100);
      soon.unref();
    },
    async start() {
      // First, bring every model up to date (the service may have been down for a while).
      await runOnce();
      timer = setInterval(() => {
        all = true;
        run();
      }, options.tickMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(soon);
      await running;
    },
  };
}
