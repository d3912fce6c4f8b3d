import { ANYONE, type Caller, OWNERS, requireCaller, Role } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { invalid, notFound } from '../../../lib/errors';
import type { Outbox } from '../../../lib/events/outbox';
import type {
  ListOffersRequest, ListOffersResponse, PublishOfferRequest, PublishOfferResponse, SyncOffersRequest, SyncOffersResponse,
} from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { GPU_LIMITS as L } from '../../../lib/gpuLimits';
import { requireSafeText } from '../../../lib/text';
import { modelPatterns } from '../../../lib/gpuListQuery';
import { cleanOffer } from './domain/offerTerms';
import { registrationEvent } from './events';
import { gpuMessage } from './gpuMessage';
import type { OfferStore } from './offerStore';
import type { GpuRow } from './store';

const STATUSES = new Set(['open', 'reserved', 'closed', 'all']);

/**
 * Offers: a GPU's owner publishes its terms (announced as gpu.updated, so booking, pricing and
 * the market learn them with the GPU), anyone lists them, admin opens offers for GPUs that
 * have none.
 */
export function createOfferHandlers(deps: {
  db: Knex; offers: OfferStore; outbox: Outbox; now: () => Date; ownedGpu: (id: string, caller: Caller) => Promise<GpuRow>;
}) {
  const { db, offers, outbox, now } = deps;
  return {
    async publishOffer(req: PublishOfferRequest): Promise<PublishOfferResponse> {
      const caller = requireCaller(req.caller, OWNERS);
      const gpu = await deps.ownedGpu(req.gpuId, caller);
      const terms = cleanOffer(req);
      const result = await db.transaction(async (trx) => {
        const published = await offers.publish(trx, gpu.id, terms);
        if (!published) throw notFound(`GPU ${req.gpuId}`);
        await outbox.enqueue(trx, [registrationEvent(published.row, false, now())]);
        return published;
      });
      return { gpu: gpuMessage(result.row, now()), created: result.created };
    },

    async listOffers(req: ListOffersRequest): Promise<ListOffersResponse> {
      requireCaller(req.caller, ANYONE);
      const status = req.status || 'open';
      if (!STATUSES.has(status)) throw invalid('status', 'must be open, reserved, closed or all');
      const limit = req.limit || 20;
      if (limit > L.listLimitMax) throw invalid('limit', `must be from 1 to ${L.listLimitMax}`);
      const model = requireSafeText('gpu_model', req.gpuModel.trim());
      requireSafeText('region', req.region);
      const rows = await offers.list(db, {
        status: status as 'open', modelPattern: model ? modelPatterns(model).namePattern : undefined, priceMaxMicro: req.priceMaxMicro,
        memoryMin: req.memoryMin, region: req.region.trim() || undefined, ownerId: req.ownerId.trim() || undefined, limit,
      });
      const at = now();
      return { gpus: rows.map((r) => gpuMessage(r, at)) };
    },

    async syncOffers(req: SyncOffersRequest): Promise<SyncOffersResponse> {
      requireCaller(req.caller, [Role.ROLE_ADMIN]);
      const opened = await db.transaction(async (trx) => {
        const rows = await offers.sync(trx);
        const at = now();
        await outbox.enqueue(trx, rows.map((r) => registrationEvent(r, false, at)));
        return rows.length;
      });
      return { opened };
    },
  };
}
