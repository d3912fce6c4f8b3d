import { requireCaller, Role } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid } from '../../../lib/errors';
import {
  type ModelPrice, type PricePoint, PricingServiceService, type PricingServiceServer,
} from '../../../lib/gen/aitbc/marketplace/v1/pricing';
import { GPU_LIMITS } from '../../../lib/gpuLimits';
import type { ServiceBinding } from '../../../lib/grpcServer';
import { MICRO_PER_UNIT } from '../../../lib/money';
import { requireSafeText } from '../../../lib/text';
import { page, readCursor } from '../../../lib/paging';
import { requestTime } from '../../../lib/time';
import { identifyModel, type ModelIdentity } from '../../../lib/modelCatalogue';
import { applyMultiplier, multiplierBp, NEUTRAL_UTILIZATION, toBp } from './domain/demandPricing';
import type { PriceBook } from './priceBook';
import type { ModelRow, PricePointRow, PricingStore } from './store';

const ANYONE = [Role.ROLE_CLIENT, Role.ROLE_PROVIDER, Role.ROLE_ADMIN, Role.ROLE_SERVICE];
const HISTORY_DEFAULT_MS = 24 * 3600 * 1000;
const HISTORY_MAX_RANGE_MS = 366 * 24 * 3600 * 1000;

/** Reads a model name from a request: what people type, resolved through the catalogue. */
export function requestedModel(text: string): ModelIdentity {
  const name = text.trim();
  if (!name) throw invalid('model', 'is required, for example "RTX 4090"');
  if (name.length > GPU_LIMITS.modelMaxLength) throw invalid('model', `must be at most ${GPU_LIMITS.modelMaxLength} characters`);
  requireSafeText('model', name);
  const identity = identifyModel(name);
  if (!identity.key) throw invalid('model', 'must name a GPU model (letters or digits), for example "RTX 4090"');
  return identity;
}

/** A stored model as the ModelPrice message. */
export function modelPrice(row: ModelRow): ModelPrice {
  return {
    modelKey: row.model_key,
    model: row.model,
    basePriceMicro: row.base_price_micro,
    basePriceSource: row.base_price_source,
    currentPriceMicro: row.current_price_micro,
    multiplierBp: row.multiplier_bp,
    utilizationBp: toBp(row.utilization),
    instantUtilizationBp: row.instant_utilization_bp,
    totalGpus: row.total_gpus,
    onlineGpus: row.online_gpus,
    bookedGpus: row.booked_gpus,
    availableGpus: row.available_gpus,
    recentBookings: row.recent_bookings,
    minPriceMicro: row.min_price_micro,
    maxPriceMicro: row.max_price_micro,
    averagePriceMicro: row.average_price_micro,
    cheapestGpuId: row.cheapest_gpu_id,
    cheapestPriceMicro: row.cheapest_price_micro,
    fairLowMicro: row.fair_low_micro,
    fairHighMicro: row.fair_high_micro,
    fairBandBookings: row.fair_band_bookings,
    // A provider listing now should ask what the market pays now: base × demand.
    suggestedPriceMicro: row.current_price_micro,
    updatedAt: new Date(row.computed_at),
  };
}

const pointMessage = (p: PricePointRow): PricePoint => ({
  at: new Date(p.at), priceMicro: p.price_micro, basePriceMicro: p.base_price_micro, multiplierBp: p.multiplier_bp,
  utilizationBp: p.utilization_bp, onlineGpus: p.online_gpus, bookedGpus: p.booked_gpus,
});

/** A model has a price when GPUs of it are registered or an admin set one. */
const priced = (row: ModelRow | undefined): row is ModelRow => !!row && (row.total_gpus > 0 || !!row.admin_price_micro);

function unknownModel(identity: ModelIdentity): DomainError {
  return new DomainError('NOT_FOUND', `no GPUs of model "${identity.name}" (${identity.key}) are registered and it has no admin price`);
}

/** gRPC handlers of aitbc.marketplace.v1.PricingService. */
export function createPricingHandlers(deps: { db: Knex; store: PricingStore; book: PriceBook }): ServiceBinding<PricingServiceServer> {
  const { db, store, book } = deps;
  // The price book's copy first; the database for a model this process has not computed
  // (for example one an admin just priced through another replica).
  const model = async (key: string) => book.current(key) ?? store.getModel(db, key);
  return {
    definition: PricingServiceService,
    implementation: {
      async quote(req) {
        requireCaller(req.caller, [Role.ROLE_SERVICE, Role.ROLE_ADMIN]);
        const listed = req.listedPricePerHourMicro;
        if (!Number.isSafeInteger(listed) || listed <= 0) throw invalid('listed_price_per_hour_micro', 'must be greater than 0');
        if (!(req.durationSeconds > 0)) throw invalid('duration_seconds', 'must be greater than 0');
        const identity = requestedModel(req.model);
        const row = await model(identity.key);
        // A model pricing has not heard of yet (its events are on the way) is neutral.
        const bp = row?.multiplier_bp ?? multiplierBp(NEUTRAL_UTILIZATION);
        return {
          pricePerHourMicro: applyMultiplier(listed, bp),
          listedPriceMicro: listed,
          multiplierBp: bp,
          modelKey: identity.key,
          utilizationBp: row ? toBp(row.utilization) : toBp(NEUTRAL_UTILIZATION),
          quotedAt: new Date(),
        };
      },

      async getModelPrice(req) {
        requireCaller(req.caller, ANYONE);
        const identity = requestedModel(req.model);
        const row = await model(identity.key);
        if (!priced(row)) throw unknownModel(identity);
        return { price: modelPrice(row) };
      },

      async getPriceHistory(req) {
        requireCaller(req.caller, ANYONE);
        const identity = requestedModel(req.model);
        const to = requestTime('to', req.to) ?? new Date();
        let from = requestTime('from', req.from) ?? new Date(to.getTime() - HISTORY_DEFAULT_MS);
        if (from >= to) throw invalid('from', 'must be before to');
        if (to.getTime() - from.getTime() > HISTORY_MAX_RANGE_MS) throw invalid('from', 'the range may span at most 366 days');
        const limit = req.limit || 500;
        if (limit < 1 || limit > 1000) throw invalid('limit', 'must be from 1 to 1000');
        // A point is one model's at one millisecond: the model key is its id.
        const after = readCursor('prices', req.cursor, (id) => id === identity.key);
        // The next page starts just after the cursor.
        if (after && new Date(after.at) >= from) from = new Date(new Date(after.at).getTime() + 1);
        if (!priced(await model(identity.key))) throw unknownModel(identity);
        const rows = await store.history(db, identity.key, from, to, limit + 1);
        const { items, nextCursor } = page(rows, limit, 'prices', (last) => [new Date(last.at), identity.key]);
        return { modelKey: identity.key, points: items.map(pointMessage), nextCursor };
      },

      async setBasePrice(req) {
        requireCaller(req.caller, [Role.ROLE_ADMIN]);
        const identity = requestedModel(req.model);
        const price = req.basePriceMicro;
        if (price !== undefined && (!Number.isSafeInteger(price) || price <= 0 || price > GPU_LIMITS.priceMax * MICRO_PER_UNIT)) {
          throw invalid('base_price', `must be greater than 0 and at most ${GPU_LIMITS.priceMax}`);
        }
        const row = await db.transaction(async (trx) => {
          const [current] = await store.lockModels(trx, [identity.key]);
          if (!current && price === undefined) throw unknownModel(identity);
          const row = current ?? await store.createModel(trx, {
            model_key: identity.key, model: identity.name, utilization: NEUTRAL_UTILIZATION, computed_at: new Date(),
            multiplier_bp: multiplierBp(NEUTRAL_UTILIZATION),
          });
          await store.saveModels(trx, [{ ...row, admin_price_micro: price ?? null }]);
          const [updated] = await book.recompute(trx, [identity.key], 'base_price');
          return updated;
        });
        return { price: modelPrice(row) };
      },
    },
  };
}

