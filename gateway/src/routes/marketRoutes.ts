import type { FastifyInstance } from 'fastify';
import { DomainError, invalid } from '../../../lib/errors';
import { GPU_LIMITS as L } from '../../../lib/gpuLimits';
import type { Bid } from '../../../lib/gen/aitbc/marketplace/v1/market';
import { parseMoney, toUnits } from '../../../lib/money';
import { requestTime } from '../../../lib/time';
import { bookingJson } from '../bookingJson';
import type { GatewayDeps } from '../deps';
import { callerOf, setNextLinks } from '../request';
import { answers, int, listOf, named, num, object, pageHeaders, ref, str, strings, strOrNull, timeOrNull } from '../answers';

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/** A bid as upstream shows it ({id, provider, capacity, price, notes, status, submitted_at}), with what the market did with it. */
export const bidJson = (b: Bid) => ({
  id: b.bidId, provider: b.provider, capacity: b.capacity, price: toUnits(b.priceMicro), notes: b.notes || null, status: b.status,
  submitted_at: iso(b.submittedAt), client_id: b.clientId, duration_hours: Math.round((b.durationSeconds / 3600) * 1e6) / 1e6,
  gpu_model: b.gpuModel || null, memory_min: b.memoryMin || null, region: b.region || null, expires_at: iso(b.expiresAt),
  booking_ids: b.bookingIds, reason: b.reason || null, decided_at: iso(b.decidedAt),
});

export const bidSchema = named('Bid', 'A bid and what the market did with it: pending, accepted (its booking_ids) or rejected (reason)', object({
  id: str, provider: str, capacity: int, price: num, notes: strOrNull, status: { type: 'string', enum: ['pending', 'accepted', 'rejected'] },
  submitted_at: timeOrNull, client_id: str, duration_hours: num, gpu_model: strOrNull, memory_min: { type: ['integer', 'null'] }, region: strOrNull,
  expires_at: timeOrNull, booking_ids: strings, reason: strOrNull, decided_at: timeOrNull,
}), {
  id: 'bid_6p8q0r2s4t6v8w0x2y4z', provider: '*', capacity: 2, price: 1.8, notes: 'nightly run', status: 'pending', submitted_at: '2026-12-03T08:00:00.000Z',
  client_id: 'alice', duration_hours: 1, gpu_model: '4090', memory_min: null, region: null, expires_at: '2026-12-04T08:00:00.000Z', booking_ids: [], reason: null, decided_at: null,
});

const statsSchema = object({
  totalOffers: int, openCapacity: int, averagePrice: num, activeBids: int, gpus_online: int, gpus_booked: int, bookings_last_24h: int,
  models: { type: 'array', items: object({ model: str, online: int, booked: int, median_price: num }) },
});

const bidBody = {
  type: 'object', additionalProperties: false, required: ['provider', 'capacity', 'price'],
  properties: {
    provider: { type: 'string', minLength: 1, maxLength: 64 },
    capacity: { type: 'integer', minimum: 1, maximum: 64 },
    price: { type: ['number', 'string'], description: 'the most per GPU-hour, AITBC' },
    notes: { type: ['string', 'null'], maxLength: 1000 },
    duration_hours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
    gpu_model: { type: 'string', maxLength: 100 },
    memory_min: { type: 'integer', minimum: 0, maximum: L.memoryGbMax },
    region: { type: 'string', maxLength: 64 },
    expires_at: { type: 'string', format: 'date-time' },
  },
  examples: [{ provider: '*', capacity: 2, price: 1.8, notes: 'nightly run', duration_hours: 1, gpu_model: '4090' }],
} as const;
const memory = { type: 'number', minimum: 0, maximum: L.memoryGbMax } as const;
const bidParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const rentBody = {
  type: 'object', additionalProperties: false, required: ['duration_hours'],
  properties: {
    resource_id: { type: ['string', 'null'], maxLength: 64 },
    consumer_id: { type: ['string', 'null'], maxLength: 200, description: 'ignored: the key says who rents' },
    duration_hours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
    max_price_per_hour: { type: ['number', 'string', 'null'] },
    // The CLI passes what the user wrote: an unknown key is refused rather than ignored, so a
    // requirement never silently goes unmet (a model or memory spelling listed here is used).
    requirements: {
      type: ['object', 'null'], additionalProperties: false, properties: {
        model: { type: 'string', maxLength: 100 }, gpu_model: { type: 'string', maxLength: 100 }, memory: memory, memory_gb: memory, memory_min: memory,
        region: { type: 'string', maxLength: 64 },
        min_rating: { type: 'number', minimum: 0, maximum: 5 },
      },
    },
  },
  examples: [{ resource_id: null, consumer_id: 'agent-7', duration_hours: 1, max_price_per_hour: 1.0, requirements: { model: '4090', memory: 16 } }],
} as const;

interface BidBody { provider: string; capacity: number; price: number | string; notes?: string | null; duration_hours?: number; gpu_model?: string; memory_min?: number; region?: string; expires_at?: string }
interface RentBody {
  resource_id?: string | null; duration_hours: number; max_price_per_hour?: number | string | null;
  requirements?: { model?: string; gpu_model?: string; memory?: number; memory_gb?: number; memory_min?: number; region?: string; min_rating?: number } | null;
}

/** The one value a requirement's aliases give ("model" or "gpu_model"); two that differ are refused, not one silently chosen. */
function oneOf<K extends keyof NonNullable<RentBody['requirements']>>(r: NonNullable<RentBody['requirements']>, keys: K[]) {
  const given = keys.filter((k) => r[k] !== undefined);
  if (given.some((k) => r[k] !== r[given[0]])) throw invalid(`requirements.${given[1]}`, `differs from requirements.${given[0]}; send one of them`);
  return given.length ? r[given[0]] : undefined;
}

/** Bids (standing orders that fill themselves), renting by requirements, and the market's figures. */
export function marketRoutes(app: FastifyInstance, { market }: GatewayDeps): void {
  app.post<{ Body: BidBody }>('/v1/marketplace/bids', {
    schema: {
      summary: 'A standing order for `capacity` GPUs at most `price` per GPU-hour; it fills itself, all at once (202)', body: bidBody,
      response: answers(202, 'taken: pending until it fills, expires or is cancelled', ref('Bid'), { problems: [402, 409] }),
    },
    // A standing order outlives its request: not made with a key revoked a moment ago.
    config: { roles: ['client'], freshKey: true },
  }, async (request, reply) => {
    const b = request.body;
    const { bid } = await market.submitBid({
      caller: callerOf(request), provider: b.provider, capacity: b.capacity, priceMicro: parseMoney(b.price, 'price'), notes: b.notes ?? '',
      durationSeconds: b.duration_hours === undefined || b.duration_hours === null ? 0 : bidSeconds(b.duration_hours), gpuModel: b.gpu_model ?? '', memoryMin: b.memory_min ?? 0,
      region: b.region ?? '', expiresAt: requestTime('expires_at', b.expires_at),
    });
    return reply.code(202).send(bidJson(bid!));
  });

  app.get<{ Querystring: { limit: number; status?: string; provider?: string; cursor?: string } }>('/v1/marketplace/bids', {
    schema: { summary: 'Bids, newest first (a client its own, a provider those naming it, admin all)', querystring: {
      type: 'object', additionalProperties: false, properties: {
        limit: { type: 'integer', minimum: 1, maximum: 500, default: 20 }, status: { type: 'string', enum: ['pending', 'accepted', 'rejected'] },
        provider: { type: 'string', maxLength: 64 }, cursor: { type: 'string', maxLength: 300 },
      },
    }, response: answers(200, 'a page of bids', listOf('Bid'), { headers: pageHeaders }) },
  }, async (request, reply) => {
    const q = request.query;
    const res = await market.listBids({ caller: callerOf(request), status: q.status ?? '', provider: q.provider ?? '', limit: q.limit, cursor: q.cursor ?? '' });
    if (res.nextCursor) setNextLinks(request, reply, res.nextCursor);
    return res.bids.map(bidJson);
  });

  app.get<{ Params: { id: string } }>('/v1/marketplace/bids/:id', { schema: { summary: 'A bid', params: bidParams, response: answers(200, 'the bid', ref('Bid')) } },
    async (request) => bidJson((await market.getBid({ caller: callerOf(request), bidId: request.params.id })).bid!));

  app.delete<{ Params: { id: string } }>('/v1/marketplace/bids/:id', {
    schema: { summary: 'Cancel your pending bid (it never fills later)', params: bidParams, response: answers(200, 'cancelled (rejected)', ref('Bid'), { problems: [409] }) },
    config: { roles: ['client', 'admin'] },
  }, async (request) => bidJson((await market.cancelBid({ caller: callerOf(request), bidId: request.params.id })).bid!));

  app.post<{ Body: RentBody }>('/v1/marketplace/rent', {
    schema: {
      summary: 'Book the best free GPU meeting the requirements at or under max_price_per_hour, now (409 with alternatives when none)', body: rentBody,
      response: answers(201, 'booked', ref('Booking'), { problems: [402, 409] }),
    },
    config: { roles: ['client'] },
  }, async (request, reply) => {
    const b = request.body;
    const r = b.requirements ?? {};
    try {
      const { booking } = await market.rent({
        caller: callerOf(request), resourceId: b.resource_id ?? '', durationSeconds: Math.round(b.duration_hours * 3600),
        maxPricePerHourMicro: b.max_price_per_hour === undefined || b.max_price_per_hour === null ? undefined : parseMoney(b.max_price_per_hour, 'max_price_per_hour'),
        model: oneOf(r, ['model', 'gpu_model']) ?? '', memoryMin: Math.ceil(oneOf(r, ['memory_min', 'memory_gb', 'memory']) ?? 0), region: r.region ?? '', minRating: r.min_rating ?? 0,
      });
      return reply.code(201).send(bookingJson(booking!));
    } catch (err) {
      // Alternatives come in micro-AITBC; the API shows AITBC.
      const alternatives = err instanceof DomainError ? (err.details?.alternatives as { price_per_hour_micro: number }[] | undefined) : undefined;
      if (!alternatives) throw err;
      throw new DomainError((err as DomainError).code, (err as DomainError).message, undefined, {
        alternatives: alternatives.map(({ price_per_hour_micro: p, ...rest }) => ({ ...rest, price_per_hour: toUnits(p) })),
      });
    }
  });

  app.get('/v1/marketplace/stats', {
    schema: { summary: 'The market: offers, open capacity, average price, active bids, GPUs by model, bookings in 24 h', response: answers(200, 'the figures', statsSchema) },
  },
    async (request) => {
      const s = await market.getStats({ caller: callerOf(request) });
      return {
        totalOffers: s.totalOffers, openCapacity: s.openCapacity, averagePrice: toUnits(s.averagePriceMicro), activeBids: s.activeBids,
        gpus_online: s.gpusOnline, gpus_booked: s.gpusBooked, bookings_last_24h: s.bookingsLast24h,
        models: s.models.map((m) => ({ model: m.model, online: m.online, booked: m.booked, median_price: toUnits(m.medianPriceMicro) })),
      };
    });
}

/**
 * A bid's duration in whole seconds. Under half a second would round to 0, which the market
 * takes for "not given" (one hour): refused instead, as a booking refuses it.
 */
function bidSeconds(hours: number): number {
  const seconds = Math.round(hours * 3600);
  if (!(seconds >= 1)) throw invalid('duration_hours', 'must round to at least one second (0.00014 hours)');
  return seconds;
}
