import { requestTime } from '../../../lib/time';
import type { FastifyInstance } from 'fastify';
import { invalid } from '../../../lib/errors';
import { parseMoney } from '../../../lib/money';
import { singleFlight } from '../../../lib/singleFlight';
import type { GatewayDeps } from '../deps';
import { callerOf } from '../request';
import { pricePointJson, pricingJson } from '../pricingJson';
import { answers, pageHeaders, ref } from '../answers';


const modelParams = {
  type: 'object',
  required: ['model'],
  properties: { model: { type: 'string', description: 'Any spelling of a model: "RTX 4090", "4090", "NVIDIA GeForce RTX 4090"' } },
} as const;

const historyQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', format: 'date-time', description: 'Default: 24 hours before `to`' },
    to: { type: 'string', format: 'date-time', description: 'Default: now' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 500 },
    cursor: { type: 'string', maxLength: 64 },
  },
} as const;

const basePriceBody = {
  type: 'object',
  additionalProperties: false,
  required: ['base_price'],
  properties: { base_price: { type: ['number', 'string', 'null'], description: 'AITBC per hour; null clears it' } },
} as const;

/** Pricing endpoints: a model's price and recommendations, its history, and the admin base price. */
export function pricingRoutes(app: FastifyInstance, { pricing }: GatewayDeps): void {
  // A model's price is the same for every caller: concurrent reads of one model share one
  // call (and one JSON rendering). Nothing is kept after it answers.
  const priceOf = singleFlight(async (model: string) => {
    const { price } = await pricing.getModelPrice({ caller: undefined, model });
    return pricingJson(price!);
  }, (model) => model);

  // The CLI names the model in the path ("RTX 4090" → RTX%204090); no model is a 400, not a 404.
  for (const path of ['/v1/marketplace/pricing', '/v1/marketplace/pricing/']) {
    app.get(path, { schema: { hide: true } }, async () => {
      throw invalid('model', 'is required: GET /v1/marketplace/pricing/{model}, for example /v1/marketplace/pricing/RTX%204090');
    });
  }

  app.get<{ Params: { model: string } }>('/v1/marketplace/pricing/:model', {
    schema: { summary: 'Current price, supply, demand and recommendations for a GPU model', params: modelParams, response: answers(200, "the model's price", ref('ModelPrice')) },
  }, async (request) => priceOf(request.params.model));

  app.get<{ Params: { model: string }; Querystring: { from?: string; to?: string; limit: number; cursor?: string } }>(
    '/v1/marketplace/pricing/:model/history', {
      schema: {
        summary: "A model's price over time, oldest first", params: modelParams, querystring: historyQuery,
        response: answers(200, 'the points', ref('PriceHistory'), { headers: { 'X-Next-Cursor': pageHeaders['X-Next-Cursor'] } }),
      },
    }, async (request, reply) => {
      const { from, to, limit, cursor } = request.query;
      const res = await pricing.getPriceHistory({
        caller: callerOf(request), model: request.params.model, from: requestTime('from', from || undefined), to: requestTime('to', to || undefined),
        limit, cursor: cursor ?? '',
      });
      if (res.nextCursor) reply.header('X-Next-Cursor', res.nextCursor);
      return { model_key: res.modelKey, points: res.points.map(pricePointJson), next_cursor: res.nextCursor || null };
    });

  app.put<{ Params: { model: string }; Body: { base_price: number | string | null } }>('/v1/marketplace/pricing/:model/base-price', {
    schema: {
      summary: "Admin: fix a model's base price (null: back to the median listed price)", params: modelParams, body: basePriceBody,
      response: answers(200, "the model's price with it", ref('ModelPrice')),
    },
    config: { roles: ['admin'] },
  }, async (request) => {
    const value = request.body.base_price;
    const { price } = await pricing.setBasePrice({
      caller: callerOf(request), model: request.params.model,
      basePriceMicro: value === null ? undefined : parseMoney(value, 'base_price'),
    });
    return pricingJson(price!);
  });
}
