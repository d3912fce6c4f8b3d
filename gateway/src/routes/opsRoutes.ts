import type { FastifyInstance } from 'fastify';
import { checkHealth } from '../../../lib/grpcClient';
import type { GatewayDeps } from '../app';
import { problem, sendProblem } from '../problem';

const PUBLIC = { public: true };

/** Operations endpoints: liveness, readiness over gRPC health, the OpenAPI document. */
export function opsRoutes(app: FastifyInstance, { backends }: GatewayDeps): void {
  app.get('/healthz', { config: PUBLIC, schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: PUBLIC, schema: { hide: true } }, async (_request, reply) => {
    const entries = await Promise.all(
      backends.map(async (b) => [b.name, await checkHealth(b.channel, 1000)] as const),
    );
    const services = Object.fromEntries(entries);
    if (entries.every(([, s]) => s === 'SERVING')) return { status: 'ready', services };
    const down = entries.filter(([, s]) => s !== 'SERVING').map(([n, s]) => `${n} is ${s}`);
    return sendProblem(reply, problem(503, `not ready: ${down.join(', ')}`, { services }));
  });

  app.get('/openapi.json', { config: PUBLIC, schema: { hide: true } }, async () => app.swagger());
}
