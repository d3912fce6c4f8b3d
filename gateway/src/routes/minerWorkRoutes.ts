import type { FastifyInstance } from 'fastify';
import { invalid } from '../../../lib/errors';
import type { Earnings } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import { parseMoney, toUnits } from '../../../lib/money';
import { requestTime } from '../../../lib/time';
import { bookingStatusOf, jobJson } from '../bookingJson';
import type { GatewayDeps } from '../deps';
import { callerOf, setNextLinks } from '../request';
import { emptyBodySchema, minerParams } from '../schemas';
import { GPU_LIMITS as L } from '../../../lib/gpuLimits';
import { answers, int, listOf, num, object, pageHeaders, str, strOrNull, timeOrNull } from '../answers';

const figures = { gross: num, fee: num, net: num, bookings: int };
const earningsSchema = object({
  miner_id: str, from_time: timeOrNull, to_time: timeOrNull, currency: str, total: object(figures),
  by_gpu: { type: 'array', items: object({ gpu_id: str, ...figures }) },
  by_day: { type: 'array', items: object({ day: { type: 'string', format: 'date' }, ...figures }) },
  bookings: { type: 'array', items: object({ booking_id: str, gpu_id: str, earned_at: timeOrNull, ...figures }) },
  bookings_truncated: { type: 'boolean' },
});
const jobsSchema = object({ miner_id: str, next_cursor: strOrNull, jobs: listOf('Job') });

// A date (UTC midnight) or a date-time; checked by requestTime, which names the field.
const when = { type: 'string', maxLength: 40, description: 'a date (2026-12-01, UTC) or a date-time (2026-12-01T08:00:00Z)' } as const;
const earningsQuery = {
  type: 'object', additionalProperties: false,
  properties: { miner_id: { type: 'string', maxLength: 64 }, from_time: when, to_time: when },
} as const;
const jobsQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    miner_id: { type: 'string', maxLength: 64 },
    limit: { type: 'integer', minimum: 1, maximum: L.listLimitMax, default: 20 },
    // Every job here is a GPU rental: the CLI's type filter has nothing else to choose from.
    type: { type: 'string', enum: ['all', 'rental', 'booking', 'gpu'], description: 'jobs here are GPU rentals; any of these lists them' },
    min_reward: { type: ['number', 'string'], description: 'AITBC: only bookings whose total is at least this' },
    status: { type: 'string', enum: ['active', 'running', 'completed', 'released', 'cancelled'] },
    cursor: { type: 'string', maxLength: 200 },
  },
} as const;

interface EarningsQuery { miner_id?: string; from_time?: string; to_time?: string }
interface JobsQuery { miner_id?: string; limit: number; type?: string; min_reward?: number | string; status?: string; cursor?: string }

const earningsJson = (e: Earnings | undefined) => ({
  gross: toUnits(e?.grossMicro ?? 0), fee: toUnits(e?.feeMicro ?? 0), net: toUnits(e?.netMicro ?? 0), bookings: e?.bookings ?? 0,
});

/** The path names the miner; the CLI repeats it in the query, which must then agree. */
function sameMiner(path: string, query: string | undefined): string {
  if (query && query !== path) throw invalid('miner_id', `names another miner (${query.slice(0, 64)}) than the path (${path})`);
  return path;
}

/** A miner's work as the marketplace saw it: its earnings (from the ledger) and its jobs (bookings). */
export function minerWorkRoutes(app: FastifyInstance, { registry, accounts, booking }: GatewayDeps): void {
  app.post<{ Params: { id: string }; Querystring: EarningsQuery }>('/v1/miners/:id/earnings', {
    schema: {
      summary: "What one of your miners' GPUs earned in a window, from the ledger: gross, fee, net, per GPU, per UTC day, and the bookings behind it",
      params: minerParams, querystring: earningsQuery, body: emptyBodySchema,
      response: answers(200, "the miner's earnings", earningsSchema),
    },
    config: { roles: ['provider', 'admin'] },
  }, async (request) => {
    const minerId = sameMiner(request.params.id, request.query.miner_id);
    const caller = callerOf(request);
    const from = requestTime('from_time', request.query.from_time);
    const to = requestTime('to_time', request.query.to_time);
    if (to && to <= (from ?? new Date(0))) throw invalid('to_time', from ? 'must be after from_time' : 'must be after 1970-01-01 (from_time defaults to the beginning)');
    await registry.getMiner({ caller, minerId });
    const e = await accounts.minerEarnings({ caller, minerId, fromTime: from, toTime: to });
    return {
      miner_id: minerId, from_time: from?.toISOString() ?? null, to_time: (to ?? new Date()).toISOString(), currency: 'AITBC',
      total: earningsJson(e.total),
      by_gpu: e.gpus.map((g) => ({ gpu_id: g.gpuId, ...earningsJson(g.earnings) })),
      by_day: e.days.map((d) => ({ day: d.day, ...earningsJson(d.earnings) })),
      bookings: e.bookings.map((b) => ({ booking_id: b.bookingId, gpu_id: b.gpuId, earned_at: b.earnedAt?.toISOString() ?? null, ...earningsJson(b.earnings) })),
      bookings_truncated: e.bookingsTruncated,
    };
  });

  app.post<{ Params: { id: string }; Querystring: JobsQuery }>('/v1/miners/:id/jobs', {
    schema: {
      summary: "The bookings on one of your miners' GPUs (job ids, status, charged), newest first, filtered and paged",
      params: minerParams, querystring: jobsQuery, body: emptyBodySchema,
      response: answers(200, "a page of the miner's jobs", jobsSchema, { headers: pageHeaders }),
    },
    config: { roles: ['provider', 'admin'] },
  }, async (request, reply) => {
    const q = request.query;
    const minerId = sameMiner(request.params.id, q.miner_id);
    const caller = callerOf(request);
    const minTotalMicro = q.min_reward === undefined || q.min_reward === '' ? undefined : parseMoney(q.min_reward, 'min_reward');
    await registry.getMiner({ caller, minerId });
    const status = q.status === 'running' ? 'active' : q.status;
    const { orders, nextCursor } = await booking.listOrders({
      caller, minerId, status: status ? bookingStatusOf(status) : 0, limit: q.limit, cursor: q.cursor ?? '', minTotalMicro,
    });
    if (nextCursor) setNextLinks(request, reply, nextCursor);
    return {
      miner_id: minerId,
      jobs: orders.map(jobJson),
      next_cursor: nextCursor || null,
    };
  });
}
