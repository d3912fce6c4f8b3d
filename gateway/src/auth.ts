import type { FastifyInstance } from 'fastify';
import { presentedKey } from '../../lib/apiKeys';
import { FAILED_AUTH } from '../../lib/callAuth';
import { Role, roleName } from '../../lib/caller';
import { createRateLimiter } from '../../lib/rateLimiter';
import type { GatewayDeps } from './deps';
import { problem, sendProblem } from './problem';

/**
 * Authentication and the limits around it, on every route not marked public: the caller
 * from the key (401 without one, 403 for a service key or the wrong role), the per-account
 * request rate (429), and the throttle on unknown keys by client address.
 */
export function installAuth(app: FastifyInstance, deps: GatewayDeps): void {
  const limiter = deps.rateLimit?.perSecond ? createRateLimiter(deps.rateLimit.perSecond, deps.rateLimit.burst) : undefined;
  const failures = deps.failedAuthLimit ?? FAILED_AUTH;
  const failedKeys = createRateLimiter(failures.perSecond, failures.burst);
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config?.public) return;
    const presented = presentedKey(request.headers);
    // An address that keeps presenting unknown keys gets 429 for them, without so much as a
    // 401 to learn from, and without a lookup. A key known recently from it still works: one
    // noisy client behind a shared address (a NAT, a proxy) must not lock out everyone else
    // there (keys of 24+ random characters are beyond guessing; the throttle keeps trying
    // slow, visible and cheap).
    // A key not known recently spends a token before it is looked up (so concurrent guesses
    // cannot all slip through while lookups are in flight); a key that turns out valid gets it back.
    const spent = presented && !deps.keys.recentlyKnown(presented);
    const blocked = spent ? failedKeys.take(request.ip) : 0;
    if (blocked) {
      return sendProblem(reply.header('Retry-After', String(blocked)),
        problem(429, `too many unknown API keys from this address; retry after ${blocked} s`));
    }
    const caller = await deps.keys.authenticate(presented);
    if (caller && spent) failedKeys.refund(request.ip);
    if (!caller) {
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
}
