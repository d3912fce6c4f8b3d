import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { presentedKey } from '../../lib/apiKeys';
import { FAILED_AUTH } from '../../lib/callAuth';
import { createKeyThrottle } from '../../lib/keyThrottle';
import { Role, roleName } from '../../lib/caller';
import { memoryLimiters } from '../../lib/limiter';
import { metrics } from '../../lib/metrics';
import type { GatewayDeps } from './deps';
import { problem, sendProblem } from './problem';

/**
 * Authentication and the limits around it, on every route not marked public: the caller
 * from the key (401 without one, 403 for a service key or the wrong role), the per-account
 * request rate (429), and the throttle on unknown keys by client address.
 */
export function installAuth(app: FastifyInstance, deps: GatewayDeps): void {
  // Shared by every gateway when they have a store (RATE_LIMIT_DATABASE_URL), else in memory.
  const limiters = deps.limiters ?? memoryLimiters;
  const limiter = deps.rateLimit?.perSecond ? limiters('requests', deps.rateLimit) : undefined;
  const failedAuth = deps.failedAuthLimit ?? FAILED_AUTH;
  const admit = createKeyThrottle(deps.keys, failedAuth, limiters('failed-keys', failedAuth), deps.knownKeys);
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (config?.public) return;
    const presented = repeatedKeyHeader(request.raw.rawHeaders) ? { conflict: true as const } : presentedKey(request.headers);
    if (typeof presented === 'object') {
      return sendProblem(reply, problem(401, 'more than one API key: send one, in X-Api-Key or Authorization: Bearer'));
    }
    if (!presented) {
      return sendProblem(reply.header('WWW-Authenticate', 'Bearer'), problem(401, 'missing API key: send X-Api-Key or Authorization: Bearer'));
    }
    // Unknown keys from an address that keeps presenting them get 429, without so much as a
    // 401 to learn from (see createKeyThrottle; known keys from it still work).
    const admitted = await admit(request.ip, presented);
    if ('refused' in admitted) {
      if (admitted.refused === 'throttled') {
        return sendProblem(reply.header('Retry-After', String(admitted.retryAfter)),
          problem(429, `too many unknown API keys from this address; retry after ${admitted.retryAfter} s`));
      }
      return sendProblem(reply.header('WWW-Authenticate', 'Bearer'), problem(401, 'unknown API key'));
    }
    const { caller } = admitted;
    // A key revoked a moment ago may still be in the cache: minting a key with it would
    // outlive the revocation, so these requests ask the key store again.
    if (config?.freshKey) {
      const now = await deps.keys.authenticate(presented, { fresh: true });
      if (!now || now.accountId !== caller.accountId || now.role !== caller.role) {
        return sendProblem(reply.header('WWW-Authenticate', 'Bearer'), problem(401, 'unknown API key'));
      }
    }
    if (caller.role === Role.ROLE_SERVICE) {
      return sendProblem(reply, problem(403, 'service keys are for the gRPC API; use a client, provider or admin key here'));
    }
    request.caller = caller;
    // Only the routes that must not outlive a revocation pass it on (a new key is checked against it).
    if (config?.freshKey) request.keySha256 = createHash('sha256').update(presented, 'utf8').digest();
    const wait = limiter ? await limiter.take(`${caller.role}:${caller.accountId}`) : 0;
    if (wait) {
      metrics.rateLimited('gateway');
      return sendProblem(reply.header('Retry-After', String(wait)),
        problem(429, `too many requests for this account (limit ${deps.rateLimit!.perSecond}/s); retry after ${wait} s`));
    }
    const roles = config?.roles;
    if (roles && !roles.includes(roleName(caller.role))) {
      return sendProblem(reply, problem(403, `this needs ${withArticle(roles.join(' or '))} key; this key is ${withArticle(roleName(caller.role))} key`));
    }
  });
}

/** "an admin", "a client". */
const withArticle = (word: string) => `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;

/** A key header sent twice (Node keeps the first Authorization and joins X-Api-Key values): which was meant is not ours to guess. */
function repeatedKeyHeader(raw: string[]): boolean {
  const names = raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
  return names.filter((n) => n === 'authorization').length > 1 || names.filter((n) => n === 'x-api-key').length > 1;
}
