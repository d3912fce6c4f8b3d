import type { FastifyInstance } from 'fastify';
import { checkHealth } from '../../../lib/grpcClient';
import type { GatewayDeps } from '../deps';
import type { Metrics } from '../metrics';
import { metrics as processMetrics } from '../../../lib/metrics';
import { problem, sendProblem } from '../problem';
import { answers, object, str } from '../answers';

const PUBLIC = { public: true };
/** How old a readiness answer may be. */
export const READY_MAX_AGE_MS = 1000;

/** Operations endpoints: liveness, readiness over gRPC health, Prometheus metrics, the OpenAPI document (the /docs page is @fastify/swagger-ui). */
export function opsRoutes(app: FastifyInstance, { backends }: GatewayDeps, metrics: Metrics): void {
  app.get('/healthz', {
    config: PUBLIC, schema: { summary: 'Liveness: the gateway answers', security: [], response: answers(200, 'alive', object({ status: str }), { public: true }) },
  }, async () => ({ status: 'ok' }));

  // Readiness is asked for by probes, and by anyone (it is public): answering from a result at
  // most READY_MAX_AGE_MS old keeps it from fanning out health calls per request.
  let last: { at: number; entries: Promise<(readonly [string, string])[]> } | undefined;
  const health = () => {
    if (!last || performance.now() - last.at > READY_MAX_AGE_MS) {
      last = { at: performance.now(), entries: Promise.all(backends.map(async (b) => [b.name, await checkHealth(b.channel, 1000)] as const)) };
    }
    return last.entries;
  };

  app.get('/readyz', {
    config: PUBLIC,
    schema: {
      summary: "Readiness: every backend's gRPC health (503 naming the ones down)", security: [],
      response: answers(200, 'ready', object({ status: str, services: { type: 'object', additionalProperties: str } }), { public: true }),
    },
  }, async (_request, reply) => {
    const entries = await health();
    const services = Object.fromEntries(entries);
    if (entries.every(([, s]) => s === 'SERVING')) return { status: 'ready', services };
    const down = entries.filter(([, s]) => s !== 'SERVING').map(([n, s]) => `${n} is ${s}`);
    return sendProblem(reply, problem(503, `not ready: ${down.join(', ')}`, { services }));
  });

  app.get('/metrics', {
    config: PUBLIC,
    schema: {
      summary: 'Prometheus metrics of the gateway', security: [],
      response: answers(200, 'Prometheus text format', str, { public: true, contentType: 'text/plain' }),
    },
  }, async (_request, reply) =>
    // The gateway's own, then the process's (its gRPC clients; in npm start, every service's too).
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(metrics.render() + await processMetrics.render()));

  app.get('/openapi.json', {
    config: PUBLIC,
    schema: { summary: 'This document', security: [], response: answers(200, 'OpenAPI 3.1', { type: 'object', additionalProperties: true }, { public: true }) },
  }, async () => app.swagger());
}
