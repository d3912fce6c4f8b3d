import { ANYONE, requireCaller, Role } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid, notFound } from '../../../lib/errors';
import { MarketServiceService, type MarketServiceServer } from '../../../lib/gen/aitbc/marketplace/v1/market';
import type { ServiceBinding } from '../../../lib/grpcServer';
import { isId, newId } from '../../../lib/ids';
import { page, readCursor } from '../../../lib/paging';
import { requestTime } from '../../../lib/time';
import type { BidStore } from './bidStore';
import { cleanBid } from './domain/bidRules';
import type { MarketStore } from './marketStore';
import { bidMessage } from './messages';
import type { createRenter } from './renter';

const STATUSES = new Set(['pending', 'accepted', 'rejected']);

/** gRPC handlers of aitbc.marketplace.v1.MarketService. */
export function createMarketHandlers(deps: {
  db: Knex; bids: BidStore; market: MarketStore; rent: ReturnType<typeof createRenter>; poke: () => void;
}): ServiceBinding<MarketServiceServer> {
  const { db, bids, market } = deps;
  return {
    definition: MarketServiceService,
    implementation: {
      async submitBid(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT]);
        const bid = cleanBid({
          provider: req.provider, capacity: req.capacity, priceMicro: req.priceMicro, notes: req.notes, durationSeconds: req.durationSeconds,
          gpuModel: req.gpuModel, memoryMin: req.memoryMin, region: req.region, expiresAt: requestTime('expires_at', req.expiresAt),
        }, new Date());
        const row = await bids.insert(db, { bid_id: newId('bid'), client_id: caller.accountId, ...bid });
        deps.poke();
        return { bid: bidMessage(row) };
      },

      async getBid(req) {
        const caller = requireCaller(req.caller, ANYONE);
        const row = isId(req.bidId, 'bid') ? await bids.get(db, req.bidId) : undefined;
        const visible = row && (caller.role === Role.ROLE_ADMIN || row.client_id === caller.accountId || row.provider === caller.accountId);
        if (!row || !visible) throw notFound(`bid ${req.bidId}`);
        return { bid: bidMessage(row) };
      },

      async listBids(req) {
        const caller = requireCaller(req.caller, ANYONE);
        if (req.status && !STATUSES.has(req.status)) throw invalid('status', 'must be pending, accepted or rejected');
        const limit = req.limit || 20;
        if (limit > 500) throw invalid('limit', 'must be from 1 to 500');
        // A client sees its bids; a provider the bids naming it; admin all.
        const rows = await bids.list(db, {
          clientId: caller.role === Role.ROLE_CLIENT ? caller.accountId : undefined,
          provider: caller.role === Role.ROLE_PROVIDER ? caller.accountId : req.provider.trim() || undefined,
          status: req.status || undefined, limit, after: readCursor('bids', req.cursor),
        });
        const { items, nextCursor } = page(rows, limit, 'bids', (last) => [last.submitted_at, last.bid_id]);
        return { bids: items.map(bidMessage), nextCursor };
      },

      async cancelBid(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT, Role.ROLE_ADMIN]);
        const row = isId(req.bidId, 'bid') ? await bids.get(db, req.bidId) : undefined;
        if (!row || (caller.role !== Role.ROLE_ADMIN && row.client_id !== caller.accountId)) throw notFound(`bid ${req.bidId}`);
        const rejected = await bids.reject(db, row.bid_id, caller.role === Role.ROLE_ADMIN ? 'cancelled by an admin' : 'cancelled by its client');
        if (!rejected) {
          const now = await bids.get(db, row.bid_id);
          throw new DomainError('FAILED_PRECONDITION', `bid ${row.bid_id} is ${now?.status} already${now?.reason ? ` (${now.reason})` : ''}`, undefined, { bid_status: now?.status });
        }
        return { bid: bidMessage(rejected) };
      },

      async rent(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT]);
        return { booking: await deps.rent(caller, req) };
      },

      async getStats(req) {
        requireCaller(req.caller, ANYONE);
        const s = await market.stats(db) as Record<string, number | { model: string; online: number; booked: number; median_price_micro: number }[]>;
        const n = (k: string) => Number(s[k]);
        return {
          totalOffers: n('total_offers'), openCapacity: n('open_capacity'), averagePriceMicro: n('average_price_micro'), activeBids: n('active_bids'),
          bookingsLast24h: n('bookings_last_24h'), gpusOnline: n('gpus_online'), gpusBooked: n('gpus_booked'),
          models: (s.models as { model: string; online: number; booked: number; median_price_micro: number }[]).map((m) => ({
            model: m.model, online: Number(m.online), booked: Number(m.booked), medianPriceMicro: Number(m.median_price_micro),
          })),
        };
      },
    },
  };
}
