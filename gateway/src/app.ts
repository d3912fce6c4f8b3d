import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Client } from '@grpc/grpc-js';
import type { Caller } from '../../lib/caller';
import { Role, roleName } from '../../lib/caller';
import { FAILED_AUTH } from '../../lib/callAuth';
import { DomainError } from '../../lib/errors';
import { textProblem } from '../../lib/text';
import type { BookingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/booking';
import type { PricingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/pricing';
import type { RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import type { ReviewsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/reviews';
import type { AsyncClient } from '../../lib/grpcClient';
import type { Logger } from '../../lib/logger';
import { type KeyStore, presentedKey } from '../../lib/apiKeys';
import { errorHandler, problem, sendProblem } from './problem';
import { createMetrics } from './metrics';
import { createRateLimiter } from '../../lib/rateLimiter';
import { gpuRoutes } from './routes/gpuRoutes';
import { bookingRoutes } from './routes/bookingRoutes';
import { minerRoutes } from './routes/minerRoutes';
import { opsRoutes } from './routes/opsRoutes';
import { pricingRoutes } from './routes/pricingRoutes';
import { reviewRoutes } from './routes/reviewRoutes';

/** What the gateway needs: clients of the services and the keys. It holds no business state. */
export interface GatewayDeps {
  registry: AsyncClient<RegistryServiceClient>;
  booking: AsyncClient<BookingServiceClient>;
  pricing: AsyncClient<PricingServiceClient>;
  reviews: AsyncClient<ReviewsServiceClient>;
  keys: KeyStore;
  logger: Logger;
  /** Services whose gRPC health /readyz reports. */
  backends: { name: string; channel: Client }[];
  bodyLimitBytes?: number;
  /** Requests per second per account (0: no limit) and the burst allowed above it. */
  rateLimit?: { perSecond: number; burst: number };
  /** Unknown keys allowed per client address (a burst, then per second) before every key from it gets 429. */
  failedAuthLimit?: { perSecond: number; burst: number };
  /** The client address is X-Forwarded-For's (behind a reverse proxy). */
  trustProxy?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** No API key needed (health, docs). */
    public?: boolean;
    /** Roles allowed; absent means any authenticated role. */
    roles?: string[];
  }
}

/** The authenticated caller of a request (set by the auth hook on every non-public route). */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new DomainError('UNAUTHENTICATED', 'missing API key');
  return request.caller;
}

/** The rig named by X-Miner-ID inside the caller's account; `default` when absent. */
export function minerIdOf(request: FastifyRequest): string {
  const raw = request.headers['x-miner-id'];
  return (Array.isArray(raw) ? raw[0] : raw)?.trim() || 'default';
}

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
export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
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

  // No text that could hurt a terminal or a page reaches a service, whichever field it is in:
  // control characters (newlines and tabs only in free text) and broken Unicode are refused
  // naming the field. The services check again for their own gRPC callers.
  app.addHook('preValidation', async (request) => {
    for (const [part, value] of [['path', request.params], ['query parameter', request.query], ['body', request.body]] as const) {
      const bad = unsafeText(value);
      if (bad) throw new DomainError('INVALID_ARGUMENT', `${bad.field}: ${bad.problem}`, bad.field, { in: part });
    }
  });

  const metrics = createMetrics();
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

  const limiter = deps.rateLimit?.perSecond ? createRateLimiter(deps.rateLimit.perSecond, deps.rateLimit.burst) : undefined;
  const failures = deps.failedAuthLimit ?? FAILED_AUTH;
  const failedKeys = createRateLimiter(failures.perSecond, failures.burst);
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config?.public) return;
    // An address that keeps presenting unknown keys is refused before its next key is even
    // looked at, whichever key it is: guessing gets a few tries a second, not thousands.
    const blocked = failedKeys.peek(request.ip);
    if (blocked) {
      return sendProblem(reply.header('Retry-After', String(blocked)),
        problem(429, `too many unknown API keys from this address; retry after ${blocked} s`));
    }
    const presented = presentedKey(request.headers);
    const caller = deps.keys.authenticate(presented);
    if (!caller) {
      if (presented) failedKeys.take(request.ip);
      const detail = presented ? 'unknown API key' : 'missing API key: send X-Api-Key or Authorization: Bearer';
      return sendProblem(reply.header('WWW-Authenticate', 'Bearer'), problem(401, detail));
    }
    if (caller.role === Role.ROLE_SERVICE) {
      return sendProblem(reply, problem(403, 'service keys are for the gRPC API; use a client, provider or admin key here'));
    }
    request.caller = caller;
    const wait = limiter?.take(`${caller.role}:${caller.accountId}`) ?? 0;
    if (wait) {
      return sendProblem(reply.header('Retry-After', String(wait)),
        problem(429, `too many requests for this account (limit ${deps.rateLimit!.perSecond}/s); retry after ${wait} s`));
    }
    const roles = config?.roles;
    if (roles && !roles.includes(roleName(caller.role))) {
      return sendProblem(reply, problem(403, `this needs a ${roles.join(' or ')} key; this key is a ${roleName(caller.role)} key`));
    }
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'AITBC GPU marketplace gateway', version: '1.0.0' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
  });
  // The docs page and its assets are public like the document they show.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...route.config, public: true };
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  opsRoutes(app, deps, metrics);
  gpuRoutes(app, deps);
  minerRoutes(app, deps);
  bookingRoutes(app, deps);
  pricingRoutes(app, deps);
  reviewRoutes(app, deps);
  return app;
}

/** Puts the next page's cursor in X-Next-Cursor and a Link header, so the body stays an array. */
export function setNextLinks(request: FastifyRequest, reply: FastifyReply, cursor: string): void {
  const url = new URL(request.url, 'http://gateway');
  url.searchParams.set('cursor', cursor);
  reply.header('X-Next-Cursor', cursor);
  reply.header('Link', `<${url.pathname}${url.search}>; rel="next"`);
}

/** Fields whose text may break lines and hold tabs. */
const FREE_TEXT = new Set(['comment', 'description', 'notes', 'reason']);

/** The first string inside `value` that is not safe text, with the field it is in. */
export function unsafeText(value: unknown, field = ''): { field: string; problem: string } | undefined {
  if (typeof value === 'string') {
    const problem = textProblem(value, FREE_TEXT.has(field.split('.').pop()!.replace(/\[\d+\]$/, '')));
    return problem ? { field: field || 'value', problem } : undefined;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = unsafeText(value[i], `${field}[${i}]`);
      if (bad) return bad;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const name = field ? `${field}.${key}` : key;
      const badKey = textProblem(key);
      if (badKey) return { field: name, problem: `(a field name) ${badKey}` };
      const bad = unsafeText(inner, name);
      if (bad) return bad;
    }
  }
  return undefined;
}
