import type { FastifyInstance, FastifyReply } from 'fastify';
import { Role } from '../../../lib/caller';
import { decodePayload, EventEnvelope } from '../../../lib/events/envelope';
import type { GpuRegistered, GpuStatusChanged } from '../../../lib/gen/aitbc/marketplace/v1/events';
import { presentedKey } from '../../../lib/apiKeys';
import type { GatewayDeps } from '../deps';
import { statusName } from '../gpuJson';
import { problem, sendProblem } from '../problem';
import { callerOf } from '../request';
import { answers } from '../answers';

/** A comment line this often keeps proxies and browsers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** Open streams one account may hold (a few tabs); the next one is 429. */
export const DEFAULT_MAX_STREAMS = 5;
/** Bytes waiting for a stream's reader before it is let go. */
const MAX_BUFFERED = 1024 * 1024;
/** How often an open stream's key is checked again (revocation reaches it within this and the directory's cache time). */
const KEY_CHECK_MS = 2000;

/**
 * GET /v1/events/gpus: GPU status changes as server-sent events, from the bus's core
 * subject (a transient subscription per stream: nothing durable is left behind when the
 * browser goes). A provider sees its own GPUs; admins and clients every GPU (a GPU's status
 * is public: the list shows it to any key).
 */
export function eventRoutes(app: FastifyInstance, { events, maxStreamsPerAccount, logger, keys }: GatewayDeps): void {
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
    // HEAD says what a GET would be, without holding a stream (or a place in the cap).
    if (request.method === 'HEAD') return reply.type('text/event-stream; charset=utf-8').send('');
    const account = `${caller.role}:${caller.accountId}`;
    const count = open.get(account) ?? 0;
    if (count >= limit) {
      return sendProblem(reply.header('Retry-After', '5'), problem(429, `at most ${limit} open event streams per account; close one first`));
    }
    const presented = presentedKey(request.headers) as string;
    const ownOnly = caller.role === Role.ROLE_PROVIDER ? caller.accountId : undefined;
    reply.hijack();
    const res = reply.raw;
    open.set(account, count + 1);
    streams.add(reply);
    let subscription: { stop(): Promise<void> } | undefined;
    let closed = false;
    const timers: NodeJS.Timeout[] = [];
    const close = () => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearInterval(t);
      void subscription?.stop();
      streams.delete(reply);
      const left = (open.get(account) ?? 1) - 1;
      if (left > 0) open.set(account, left); else open.delete(account);
      if (!res.destroyed) res.destroy();
    };
    res.on('close', close);
    // The client may have gone while its key was checked: its close has fired already.
    if (res.destroyed || request.raw.socket?.destroyed) return close();
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    /** A reader that stopped reading is let go once MAX_BUFFERED bytes wait for it (it can reconnect). */
    const send = (text: string) => {
      if (res.writableLength > MAX_BUFFERED) return close();
      res.write(text);
    };
    send(': connected\n\n');
    const forward = (envelope: EventEnvelope, gpu: { gpuId: string; ownerId: string; minerId: string; model: string; status: number; previousStatus?: number; reason: string }) => {
      if (ownOnly && gpu.ownerId !== ownOnly) return;
      send(`event: gpu.status_changed\nid: ${envelope.eventId}\ndata: ${JSON.stringify({
        event_id: envelope.eventId, gpu_id: gpu.gpuId, owner_id: gpu.ownerId, miner_id: gpu.minerId, model: gpu.model,
        status: statusName(gpu.status), previous_status: gpu.previousStatus === undefined ? null : statusName(gpu.previousStatus), reason: gpu.reason,
        occurred_at: envelope.occurredAt?.toISOString() ?? null,
      })}\n\n`);
    };
    subscription = events.subscribeTransient(events.subject('gpu.*'), (_subject, data) => {
      try {
        const envelope = EventEnvelope.decode(data);
        if (envelope.type === 'gpu.status_changed') {
          const change = decodePayload(envelope) as GpuStatusChanged | undefined;
          if (change) forward(envelope, change);
        } else if (envelope.type === 'gpu.registered' || envelope.type === 'gpu.updated') {
          // A new GPU, or one registered again (which may bring it back online), says its status too.
          const gpu = (decodePayload(envelope) as GpuRegistered | undefined)?.gpu;
          if (gpu) forward(envelope, { gpuId: gpu.id, ownerId: gpu.ownerId, minerId: gpu.minerId, model: gpu.model, status: gpu.status, reason: envelope.type === 'gpu.registered' ? 'registered' : 'updated' });
        }
      } catch (err) {
        logger.warn({ err }, 'an event the GPU stream could not decode');
      }
    });
    timers.push(setInterval(() => send(': keep-alive\n\n'), HEARTBEAT_MS));
    // A key revoked while its stream is open ends the stream (as it ends every other use within the directory's cache time).
    timers.push(setInterval(() => {
      void keys.authenticate(presented).then((still) => { if (!still) close(); }, () => undefined);
    }, KEY_CHECK_MS));

  });
}
