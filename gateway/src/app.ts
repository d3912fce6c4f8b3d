import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { installAuth } from './auth';
import type { GatewayDeps } from './deps';
import { createMetrics } from './metrics';
import { errorHandler, problem, sendProblem } from './problem';
import { installRequestTracing } from './requestTracing';
import { installTextGuard } from './textGuard';
import { ANSWER_SCHEMAS } from './answerSchemas';
import { gpuRoutes } from './routes/gpuRoutes';
import { bookingRoutes } from './routes/bookingRoutes';
import { minerRoutes } from './routes/minerRoutes';
import { minerWorkRoutes } from './routes/minerWorkRoutes';
import { opsRoutes } from './routes/opsRoutes';
import { pricingRoutes } from './routes/pricingRoutes';
import { reviewRoutes } from './routes/reviewRoutes';
import { accountRoutes } from './routes/accountRoutes';
import { offerRoutes } from './routes/offerRoutes';
import { marketRoutes } from './routes/marketRoutes';
import { eventRoutes } from './routes/eventRoutes';
import { consoleRoutes } from './consoleRoutes';
import { createGpuReplica } from './gpuReplica';
import { listedGpuJson, rebookedGpuJson } from './gpuListJson';
import { metrics as processMetrics } from '../../lib/metrics';

export type { GatewayDeps } from './deps';

/** The document's sections: name, the paths in it, what it is about. */
const TAGS: [string, RegExp, string][] = [
  ['GPUs', /^\/v1\/marketplace\/gpu\/(register|list|:id)$/, 'register, list, look up and unregister GPUs'],
  ['Miners', /^\/v1\/miners/, "a provider's rigs: register, heartbeat, capabilities, earnings, jobs"],
  ['Bookings', /^\/v1\/marketplace\/(gpu\/:id\/(book|confirm|release)|bookings|orders)/, 'book, confirm, release; bookings and orders'],
  ['Pricing', /^\/v1\/marketplace\/pricing/, 'prices per model, their history, base prices'],
  ['Reviews', /^\/v1\/marketplace\/(gpu\/:id\/(reviews|rating-history)|reviews)/, 'verified reviews and ratings'],
  ['Accounts and money', /^\/v1\/(accounts|keys|payments)/, 'accounts, API keys, balances, the ledger, payments'],
  ['Market', /^\/v1\/marketplace\/(offers|miner-offers|sync-offers|bids|rent|stats)/, 'offers, bids that fill themselves, renting by requirements, figures'],
  ['Events', /^\/v1\/events\//, 'live changes as server-sent events'],
  ['Operations', /^\/(healthz|readyz|metrics|openapi\.json)$/, 'health, readiness, metrics, this document'],
];

// Bodies: no coercion ("24" is not a number) and no silent removal of unknown fields.
const bodyAjv = new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: true, allErrors: true, strict: false });
// Query strings and headers arrive as text: coerce them to the schema's types.
const textAjv = new Ajv({ coerceTypes: true, removeAdditional: false, useDefaults: true, allErrors: false, strict: false });
addFormats(bodyAjv);
addFormats(textAjv);

/**
 * Builds the REST gateway, unbound: tests call `app.listen({ port: 0 })` or `app.inject`,
 * and main.ts binds the configured port.
 */
export async function buildGateway(given: GatewayDeps): Promise<FastifyInstance> {
  // The list replica watches the registry writes every route makes through this gateway.
  const replica = given.gpuReplica && createGpuReplica(given.registry, given.logger, given.gpuReplica, listedGpuJson, rebookedGpuJson);
  const deps = replica ? { ...given, registry: replica.watching(given.registry) } : given;
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One line per request from the onResponse hook below, instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimitBytes ?? 64 * 1024,
    return503OnClosing: true,
    trustProxy: deps.trustProxy ?? false,
    // Long enough that a too-long model name or id reaches validation (a 400 naming the
    // field) instead of falling out of routing as a 404.
    routerOptions: { maxParamLength: 500 },
    // What Node's HTTP parser refuses (a bad request line, a NUL in a header, headers too
    // large) never reaches Fastify's handlers: answer it as problem+json here.
    clientErrorHandler: (err, socket) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || !socket.writable) return socket.destroy();
      const tooLarge = (err as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW';
      const p = tooLarge ? problem(431, 'the request headers are too large') : problem(400, 'the request is not valid HTTP');
      const body = JSON.stringify(p);
      socket.end(`HTTP/1.1 ${p.status} ${p.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    },
    // Errors the router raises before any route runs are problem+json like every other.
    frameworkErrors: (error, request, reply) => {
      const instance = request.url.split('?')[0];
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        return sendProblem(reply, problem(414, 'a path segment is longer than 500 characters; no id or model name is that long', { instance }));
      }
      if (error.code === 'FST_ERR_BAD_URL') {
        return sendProblem(reply, problem(400, 'the path is not valid: every % must start an escape such as %20', { instance }));
      }
      return sendProblem(reply, problem(error.statusCode && error.statusCode < 500 ? error.statusCode : 400, error.message, { instance }));
    },
  });
  // First, so every later hook (authentication, limits) runs inside the request's span.
  installRequestTracing(app);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? bodyAjv : textAjv).compile(schema as object) as never);
  app.setErrorHandler(errorHandler(deps.logger));
  // JSON only: a text/plain body is refused with 415 rather than parsed into a string.
  app.removeContentTypeParser('text/plain');
  // An empty body with a JSON content type (some clients send one on POSTs without a body)
  // means "no body" rather than a parse error; anything else goes to Fastify's safe parser.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    (body === '' ? done(null, undefined) : parseJson(request, body as string, done)));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem(404, `no route ${request.method} ${request.url.split('?')[0]}`)));

  installTextGuard(app);

  const metrics = createMetrics();
  // No answer is to be sniffed into something else (a 404 echoes its path).
  app.addHook('onSend', async (_request, reply) => {
    reply.header('X-Content-Type-Options', 'nosniff');
  });
  app.addHook('onResponse', async (request, reply) => {
    // Route templates, not URLs: ids and models in paths would make one series per value.
    metrics.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime);
    const level = reply.statusCode >= 500 ? 'warn' : 'debug';
    if (deps.logger.isLevelEnabled(level)) {
      deps.logger[level]({
        method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100,
        account: request.caller?.accountId,
      }, 'request');
    }
  });

  installAuth(app, deps);

  // The answers' named schemas: components of the document, and what routes refer to.
  for (const schema of ANSWER_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    // Components keep their own names (Gpu, Booking, …) instead of def-0, def-1.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // A body that may be null may also be left out (release, confirm, heartbeat): say so.
    transformObject: (doc) => optionalBodies(('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject) as OpenApiObject),
    // 3.1: its schemas are JSON Schema 2020-12, the dialect the route schemas are written in
    // (numeric exclusiveMinimum, type lists with "null").
    openapi: {
      openapi: '3.1.0',
      info: { title: 'AITBC GPU marketplace gateway', version: '1.0.0' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
      tags: TAGS.map(([name, , description]) => ({ name, description })),
    },
  });
  // The docs page and its assets are public like the document they show; every other route
  // is listed under the tag of its path.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true };
    else if (route.schema && !route.schema.hide) {
      const tag = TAGS.find(([, prefix]) => prefix.test(route.url));
      if (tag) route.schema = { ...route.schema, tags: [tag[0]] };
    }
  });
  // Its own CSP (the plugin's hashes of its scripts): /docs shares the console's origin, and so its key.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  opsRoutes(app, deps, metrics);
  gpuRoutes(app, deps, replica);
  minerRoutes(app, deps);
  minerWorkRoutes(app, deps);
  bookingRoutes(app, deps);
  pricingRoutes(app, deps);
  reviewRoutes(app, deps);
  accountRoutes(app, deps);
  offerRoutes(app, deps);
  marketRoutes(app, deps);
  eventRoutes(app, deps);
  // The console's files: hidden from the document, public, under a strict CSP.
  if (deps.console !== false) await app.register(consoleRoutes);
  if (replica) {
    const unwatch = processMetrics.watchGpuReplica(replica.stats);
    app.addHook('onClose', async () => {
      unwatch();
      await replica.stop();
    });
    replica.start();
  }
  return app;
}

type OpenApiObject = { paths?: Record<string, Record<string, { requestBody?: { required?: boolean; content?: Record<string, { schema?: { type?: unknown } }> } }>> };

function optionalBodies(doc: OpenApiObject) {
  for (const methods of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(methods)) {
      const type = op.requestBody?.content?.['application/json']?.schema?.type;
      if (op.requestBody && Array.isArray(type) && type.includes('null')) op.requestBody.required = false;
    }
  }
  return doc as never;
}
