import type { FastifyInstance } from 'fastify';
import { parseMoney } from '../../../lib/money';
import type { GatewayDeps } from '../deps';
import { minerOfferJson, offerJson } from '../offerJson';
import { callerOf } from '../request';
import { emptyBodySchema } from '../schemas';
import { GPU_LIMITS as L } from '../../../lib/gpuLimits';
import { answers, int, listOf, object, ref } from '../answers';

const hours = { type: 'number', exclusiveMinimum: 0, maximum: 720 } as const;
const offerBody = {
  type: 'object', additionalProperties: false, required: ['gpu_id', 'price_per_hour'],
  properties: {
    gpu_id: { type: 'string', minLength: 1, maxLength: 64 },
    price_per_hour: { type: ['number', 'string'] },
    min_hours: hours, max_hours: hours,
    supported_models: { type: 'array', maxItems: 32, items: { type: 'string', minLength: 1, maxLength: 100 } },
    status: { type: 'string', enum: ['open', 'closed'] },
  },
  examples: [{ gpu_id: 'gpu_8c1k2m3n4p5q6r7s8t9v', price_per_hour: 1.5, min_hours: 1, max_hours: 8, supported_models: ['llama', 'sdxl'], status: 'open' }],
} as const;
const offersQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: L.listLimitMax, default: 20 },
    status: { type: 'string', enum: ['open', 'reserved', 'closed', 'all'] },
    gpu_model: { type: 'string', maxLength: L.modelMaxLength },
    price_max: { type: 'number', minimum: 0 },
    memory_min: { type: 'integer', minimum: 0, maximum: L.memoryGbMax },
    region: { type: 'string', maxLength: 64 },
  },
} as const;

interface OffersQuery { limit: number; status?: string; gpu_model?: string; price_max?: number; memory_min?: number; region?: string }

/** Offers: a GPU's owner publishes its terms; anyone lists them; admin opens offers for GPUs without one. */
export function offerRoutes(app: FastifyInstance, { registry }: GatewayDeps): void {
  const list = (caller: ReturnType<typeof callerOf>, q: OffersQuery) => registry.listOffers({
    caller, status: q.status ?? 'open', gpuModel: q.gpu_model ?? '', priceMaxMicro: q.price_max === undefined ? undefined : parseMoney(q.price_max, 'price_max'),
    memoryMin: q.memory_min, region: q.region ?? '', limit: q.limit, ownerId: '',
  });

  app.post<{ Body: { gpu_id: string; price_per_hour: number | string; min_hours?: number; max_hours?: number; supported_models?: string[]; status?: string } }>(
    '/v1/marketplace/offers', {
      schema: {
        summary: "Publish (or change) your GPU's offer: price per hour, hours it may be booked for, models it supports", body: offerBody,
        response: answers(201, 'published', ref('Offer'), { also: { 200: 'changed' } }),
      },
      config: { roles: ['provider', 'admin'] },
    }, async (request, reply) => {
      const b = request.body;
      const { gpu, created } = await registry.publishOffer({
        caller: callerOf(request), gpuId: b.gpu_id, pricePerHourMicro: parseMoney(b.price_per_hour, 'price_per_hour'),
        minHours: b.min_hours ?? 0, maxHours: b.max_hours ?? 0, supportedModels: b.supported_models ?? [], status: b.status ?? 'open',
      });
      return reply.code(created ? 201 : 200).send(offerJson(gpu!));
    });

  app.get<{ Querystring: OffersQuery }>('/v1/marketplace/offers', {
    schema: {
      summary: 'Offers, cheapest first (status open by default: reserved ones are booked now)', querystring: offersQuery,
      response: answers(200, 'the offers', listOf('Offer')),
    },
  }, async (request) => (await list(callerOf(request), request.query)).gpus.map(offerJson));

  app.get<{ Querystring: OffersQuery }>('/v1/marketplace/miner-offers', {
    schema: { summary: 'Offers with their miner and GPU status', querystring: offersQuery, response: answers(200, 'the offers', listOf('MinerOffer')) },
  }, async (request) => (await list(callerOf(request), request.query)).gpus.map(minerOfferJson));

  app.post('/v1/marketplace/sync-offers', {
    schema: {
      summary: 'Admin: open an offer, at its listed price, for every online GPU that has none', body: emptyBodySchema,
      response: answers(200, 'how many were opened', object({ opened: int })),
    }, config: { roles: ['admin'] },
  }, async (request) => ({ opened: (await registry.syncOffers({ caller: callerOf(request) })).opened }));
}

