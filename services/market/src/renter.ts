import type { Caller } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid } from '../../../lib/errors';
import type { Booking, BookingServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import type { RentRequest } from '../../../lib/gen/aitbc/marketplace/v1/market';
import type { AsyncClient } from '../../../lib/grpcClient';
import { isId } from '../../../lib/ids';
import { formatMoney } from '../../../lib/money';
import { requireSafeText } from '../../../lib/text';
import { alternativesFor } from './domain/alternatives';
import { byPreference, type FreeGpu, meets } from './domain/matching';
import type { MarketStore } from './marketStore';

/**
 * Renting by requirements: the best free GPU (cheapest, then best rated) that meets them at
 * or under the price, free for the whole duration and offered for that long, booked now; when
 * none fits, a conflict naming the nearest alternatives (the preferred ones free now and the
 * soonest to be free), each with the reasons it was passed over.
 */
export function createRenter(deps: { db: Knex; market: MarketStore; booking: AsyncClient<BookingServiceClient> }) {
  return async function rent(caller: Caller, req: RentRequest): Promise<Booking> {
    const seconds = req.durationSeconds;
    if (!seconds || seconds > 720 * 3600) throw invalid('duration_hours', 'must be more than 0 and at most 720');
    if (req.resourceId && !isId(req.resourceId, 'gpu')) throw new DomainError('NOT_FOUND', `GPU ${req.resourceId} not found`);
    const model = requireSafeText('requirements.model', req.model.trim());
    const region = requireSafeText('requirements.region', req.region.trim());
    const now = Date.now();
    const wants = {
      bid_id: 'rent', provider: '*', capacity: 1, price_micro: req.maxPricePerHourMicro ?? Number.MAX_SAFE_INTEGER, gpu_model: model,
      memory_min: req.memoryMin, region, needed_until_ms: now + seconds * 1000, duration_seconds: seconds,
    };
    const fits = (g: FreeGpu) => (!req.resourceId || g.gpu_id === req.resourceId) && g.average_rating >= req.minRating;
    const free = (await deps.market.free(deps.db, 0)).map((g) => ({ ...g, free_until_ms: g.free_until ? g.free_until.getTime() : null }))
      .filter((g) => fits(g) && meets(g, wants)).sort(byPreference);
    for (const gpu of free) {
      try {
        const res = await deps.booking.createBooking({
          caller: undefined, clientId: caller.accountId, gpuId: gpu.gpu_id, durationHours: seconds / 3600, jobId: '', dryRun: false, idempotencyKey: '',
          maxTotalCostMicro: req.maxPricePerHourMicro === undefined ? undefined : Math.round((req.maxPricePerHourMicro * seconds) / 3600),
        }, { deadlineMs: 5000 });
        // Known here at once (its event follows), so the next rent does not try this GPU.
        await deps.market.noteBooking(deps.db, res.booking!);
        return res.booking!;
      } catch (err) {
        // Taken or gone since it was read, or dearer now: the next one. Money and bad input end it.
        if (!(err instanceof DomainError) || err.code !== 'FAILED_PRECONDITION' || err.details?.reason === 'insufficient_funds' || err.field === 'total_cost') throw err;
      }
    }
    // Nothing fits: the nearest alternatives that meet the requirements, each saying why not.
    const anyTerms = { ...wants, price_micro: Number.MAX_SAFE_INTEGER, duration_seconds: 0 };
    const candidates = (await deps.market.candidates(deps.db))
      .filter((g) => fits(g) && meets({ ...g, offer_min_hours: null, offer_max_hours: null }, anyTerms));
    const alternatives = alternativesFor(candidates, { max_price_micro: req.maxPricePerHourMicro ?? null, duration_seconds: seconds, now_ms: now });
    const price = req.maxPricePerHourMicro === undefined ? '' : ` at or under ${formatMoney(req.maxPricePerHourMicro)} AITBC/h`;
    throw new DomainError('FAILED_PRECONDITION', `no free GPU meets the requirements${price} for ${seconds / 3600} h; see alternatives`, undefined, { alternatives });
  };
}
