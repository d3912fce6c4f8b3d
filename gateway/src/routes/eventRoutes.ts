import type { FastifyInstance, FastifyReply } from 'fastify';
import { Role } from '../../../lib/caller';
import { decodePayload, EventEnvelope } from '../../../lib/events/envelope';
import type { GpuStatusChanged } from '../../../lib/gen/aitbc/marketplace/v1/events';
import type { GatewayDeps } from '../deps';
import { statusName } from '../gpuJson';
import { problem, sendProblem } from '../problem';
import { callerOf } from '../request';
import { answers } from '../answers';

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** Open streams one account may hold (a few tabs); the next one is 429. */
export const DEFAULT_MAX_STREAMS = 5;

/**
 * GET /v1/events/gpus: GPU status changes as server-sent events, from the bus's core
 * subject (a transient subscription per stream: nothing durable is left behind when the
 * browser goes). A provider sees its own GPUs; admins and clients every GPU (a GPU's status
 * is public: the list shows it to any key).
 */
export function eventRoutes(app: FastifyInstance, { events, maxStreamsPerAccount, logger }: GatewayDeps): void {
  const limit = maxStreamsPerAccount ?? DEFAULT_MAX_STREAMS;
  const open = new Map<string, number>();
  const streams = new Set<FastifyReply>();
  // Open streams would keep the server from closing: end them first.
  app.addHook('preClose', async () => {
    for (const reply of streams) reply.raw.end();
  });

  app.get('/v1/events/gpus', {
    schema: {
      summary: 'GPU status changes, live, as server-sent events (a provider: its own GPUs; clients and admins: all)',
      description: 'Each event is `event: gpu.status_changed` with `data` a JSON object `{event_id, gpu_id, owner_id, miner_id, model, status, previous_status, reason, occurred_at}`; ' +
        'a comment line every 15 s keeps the stream open. At most a few streams per account (429 beyond); 503 when the gateway has no event bus (NATS_URL).',
      response: answers(200, 'an endless text/event-stream', { type: 'string' }, { contentType: 'text/event-stream' }),
    },
  }, async (request, reply) => {
    const caller = callerOf(request);
    if (!events) return sendProblem(reply.header('Retry-After', '60'), problem(503, 'live events are off: this gateway has no event bus (set NATS_URL)'));
    const account = `${caller.role}:${caller.accountId}`;
    const count = open.get(account) ?? 0;
    if (count >= limit) {
      return sendProblem(reply.header('Retry-After', '5'), problem(429, `at most ${limit} open event streams per account; close one first`));
    }
    open.set(account, count + 1);
    const ownOnly = caller.role === Role.ROLE_PROVIDER ? caller.accountId : undefined;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    res.write(': connected\n\n');
    streams.add(reply);
    const subscription = events.subscribeTransient(events.subject('gpu.status_changed'), (_subject, data) => {
      try {
        const envelope = EventEnvelope.decode(data);
        const change = decodePayload(envelope) as GpuStatusChanged | undefined;
        if (!change || (ownOnly && change.ownerId !== ownOnly)) return;
        res.write(`event: gpu.status_changed\nid: ${envelope.eventId}\ndata: ${JSON.stringify({
          event_id: envelope.eventId, gpu_id: change.gpuId, owner_id: change.ownerId, miner_id: change.minerId, model: change.model,
          status: statusName(change.status), previous_status: statusName(change.previousStatus), reason: change.reason,
          occurred_at: envelope.occurredAt?.toISOString() ?? null,
        })}\n\n`);
      } catch (err) {
        logger.warn({ err }, 'an event the GPU stream could not decode');
      }
    });
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    res.on('close', () => {
      clearInterval(heartbeat);
      void subscription.stop();
      streams.delete(reply);
      const left = (open.get(account) ?? 1) - 1;
      if (left > 0) open.set(account, left); else open.delete(account);
    });
  });
}
