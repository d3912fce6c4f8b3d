import { requestTime } from '../../../lib/time';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError, invalid } from '../../../lib/errors';
import type { Booking } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { parseMoney, toUnits } from '../../../lib/money';
import type { GatewayDeps } from '../deps';
import { callerOf, setNextLinks } from '../request';
import { bookingJson, bookingStatusOf, orderJson, quoteDetailsJson, quoteJson } from '../bookingJson';
import { bookBodySchema, confirmBodySchema, emptyBodySchema, idParamsSchema, ordersQuerySchema } from '../schemas';
import { answers, listOf, pageHeaders, ref } from '../answers';

interface BookBody {
  gpu_id?: string;
  duration_hours: number;
  total_cost?: number | null;
  job_id?: string | null;
  start_time?: string;
  dry_run?: boolean;
}

const CLIENTS = { roles: ['client'] };
const RELEASERS = { roles: ['client', 'admin'] };

/** The release answer of CONTRACT.md. */
const releaseJson = (b: Booking) => ({
  status: 'released', gpu_id: b.gpuId, booking_id: b.bookingId, charged: toUnits(b.chargedMicro), refund: toUnits(b.refundMicro),
});

function header(request: FastifyRequest, name: string): string {
  const raw = request.headers[name];
  return ((Array.isArray(raw) ? raw[0] : raw) ?? '').trim();
}

/** Booking endpoints: book (with dry run and Idempotency-Key), confirm, release, orders, booking details. */
export function bookingRoutes(app: FastifyInstance, { booking }: GatewayDeps): void {
  // Both release routes: by the GPU (its active booking) or by the booking's own id.
  const release = async (request: FastifyRequest, which: { gpuId: string } | { bookingId: string }) => {
    const { booking: b } = await booking.releaseBooking({ caller: callerOf(request), gpuId: '', bookingId: '', ...which });
    return releaseJson(b!);
  };

  app.post<{ Params: { id: string }; Body: BookBody; Querystring: { dry_run?: boolean } }>('/v1/marketplace/gpu/:id/book', {
    schema: {
      summary: 'Book a GPU (Idempotency-Key makes retries safe; dry_run=true only quotes)',
      params: idParamsSchema, body: bookBodySchema,
      querystring: { type: 'object', additionalProperties: false, properties: { dry_run: { type: 'boolean' } } },
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', description: 'a retry with the same key and body gets the first answer' } } },
      response: {
        ...answers(201, 'booked (Idempotent-Replayed: true when this answers a retry)', ref('Booking'), {
          problems: [402, 409, 422], headers: { 'Idempotent-Replayed': { type: 'string', description: '"true" when the answer is a retry\'s first answer' } },
        }),
        200: { description: 'dry_run=true: the quote, and whether it would be booked now', content: { 'application/json': { schema: ref('DryRun') } } },
      },
    },
    config: CLIENTS,
  }, async (request, reply) => {
    const body = request.body;
    if (body.gpu_id !== undefined && body.gpu_id !== request.params.id) throw invalid('gpu_id', 'differs from the GPU in the path');
    const dryRun = request.query.dry_run ?? body.dry_run ?? false;
    const key = header(request, 'idempotency-key');
    let res;
    try {
      res = await booking.createBooking({
        caller: callerOf(request),
        gpuId: request.params.id,
        durationHours: body.duration_hours,
        startTime: requestTime('start_time', body.start_time || undefined),
        jobId: body.job_id ?? '',
        maxTotalCostMicro: body.total_cost === undefined || body.total_cost === null ? undefined : parseMoney(body.total_cost, 'total_cost'),
        dryRun,
        idempotencyKey: key,
        clientId: '',
      });
    } catch (err) {
      // The refusal of a too-low total_cost carries the current quote, in AITBC.
      if (err instanceof DomainError && err.details?.quote) {
        throw new DomainError(err.code, err.message, err.field, { quote: quoteDetailsJson(err.details.quote as Record<string, unknown>) });
      }
      throw err;
    }
    if (dryRun) {
      return reply.code(200).send({ dry_run: true, would_succeed: res.wouldSucceed, reason: res.reason || null, ...quoteJson(res.quote!) });
    }
    if (res.replayed) reply.header('Idempotent-Replayed', 'true');
    return reply.code(201).send(bookingJson(res.booking!));
  });

  app.post<{ Params: { id: string }; Body: { client_id?: string | null } | undefined }>('/v1/marketplace/gpu/:id/confirm', {
    // The CLI sends {"client_id": <its API key>}: accepted, never stored or echoed.
    schema: { summary: 'Confirm your booking of a GPU', params: idParamsSchema, body: confirmBodySchema, response: answers(200, 'confirmed', ref('Booking'), { problems: [409] }) },
    config: RELEASERS,
  }, async (request) => {
    const { booking: b } = await booking.confirmBooking({ caller: callerOf(request), gpuId: request.params.id, bookingId: '' });
    return bookingJson(b!);
  });

  app.post<{ Params: { id: string } }>('/v1/marketplace/gpu/:id/release', {
    schema: {
      summary: 'Release your booking of a GPU early (charged per second used, the rest refunded)', params: idParamsSchema, body: emptyBodySchema,
      response: answers(200, 'released', ref('Release'), { problems: [409] }),
    },
    config: RELEASERS,
  }, async (request) => release(request, { gpuId: request.params.id }));

  app.post<{ Params: { id: string } }>('/v1/marketplace/bookings/:id/release', {
    schema: { summary: 'Release a booking early', params: idParamsSchema, body: emptyBodySchema, response: answers(200, 'released', ref('Release'), { problems: [409] }) },
    config: RELEASERS,
  }, async (request) => release(request, { bookingId: request.params.id }));

  app.get<{ Params: { id: string } }>('/v1/marketplace/bookings/:id', {
    schema: { summary: 'Booking details (its client, the GPU owner, admin)', params: idParamsSchema, response: answers(200, 'the booking', ref('Booking')) },
  }, async (request) => {
    const { booking: b } = await booking.getBooking({ caller: callerOf(request), bookingId: request.params.id });
    return bookingJson(b!);
  });

  app.get<{ Querystring: { status?: string; limit: number; cursor?: string } }>('/v1/marketplace/orders', {
    schema: {
      summary: 'Orders: a client sees its own, a provider those on its GPUs, admin all', querystring: ordersQuerySchema,
      response: answers(200, 'a page of orders, newest first', listOf('Order'), { headers: pageHeaders }),
    },
  }, async (request, reply) => {
    const q = request.query;
    const { orders, nextCursor } = await booking.listOrders({
      caller: callerOf(request), status: q.status ? bookingStatusOf(q.status) : 0, limit: q.limit, cursor: q.cursor ?? '', minerId: '',
    });
    if (nextCursor) setNextLinks(request, reply, nextCursor);
    return orders.map(orderJson);
  });
}
