import type { Metadata } from '@grpc/grpc-js';
import { type KeyStore } from './apiKeys';
import { type Caller, Role, roleName } from './caller';
import { DomainError } from './errors';
import { createRateLimiter, type RateLimiter } from './rateLimiter';

/** Failed logins allowed per peer address by default: a burst, then this many a second. */
export const FAILED_AUTH = { burst: 20, perSecond: 2 };

/**
 * Who a gRPC call is from, decided before any handler runs. The credential is the bearer key
 * in `authorization` metadata (or `x-api-key`); the caller a request message names is only a
 * claim. It is honoured as given when it is the credential's own account, or when the
 * credential is a service key allowed to forward the users it authenticated (the gateway's:
 * `forwarders`), and then only for user roles: a forwarder never speaks as another service.
 * Anyone else naming a caller other than itself is refused; naming none acts as itself.
 */
export interface CallAuthenticator {
  /** The caller a call acts as; throws UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED. */
  authorize(metadata: Metadata, peer: string, claimed: Caller | undefined): Caller;
  /** The credential's own account, or a DomainError (for streams that authorise themselves). */
  credential(metadata: Metadata, peer: string): Caller;
}

const USER_ROLES = new Set([Role.ROLE_CLIENT, Role.ROLE_PROVIDER, Role.ROLE_ADMIN]);

/** The bearer key of a call's metadata: `authorization: Bearer …`, else `x-api-key`. */
export function metadataKey(metadata: Metadata): string | undefined {
  const auth = metadata.get('authorization')[0]?.toString() ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
  return bearer ?? (metadata.get('x-api-key')[0]?.toString().trim() || undefined);
}

/** The peer's address without its port: throttling is per host, not per connection. */
export function peerHost(peer: string): string {
  const m = /^(?:ipv[46]:)?\[?([^\]]*?)\]?(?::\d+)?$/.exec(peer);
  return m?.[1] || peer;
}

export function createCallAuthenticator(options: {
  keys: KeyStore;
  forwarders: ReadonlySet<string>;
  /** Failed logins allowed per address (FAILED_AUTH unless given). */
  failedAuth?: { burst: number; perSecond: number };
  throttle?: RateLimiter;
}): CallAuthenticator {
  const limits = options.failedAuth ?? FAILED_AUTH;
  const throttle = options.throttle ?? createRateLimiter(limits.perSecond, limits.burst);

  function credential(metadata: Metadata, peer: string): Caller {
    const host = peerHost(peer);
    const key = metadataKey(metadata);
    const caller = options.keys.authenticate(key);
    // A known key always works: a noisy neighbour on a shared address (loopback in npm
    // start, a NAT) must not lock out the gateway or a miner. Unknown keys from an address
    // that keeps failing get RESOURCE_EXHAUSTED, not even an UNAUTHENTICATED to learn from
    // (a 24+ character key is beyond guessing; the throttle keeps trying slow and visible).
    if (caller) return caller;
    if (!key) throw new DomainError('UNAUTHENTICATED', 'missing credential: send authorization: Bearer <key> metadata');
    const blocked = throttle.peek(host);
    if (blocked) {
      throw new DomainError('RESOURCE_EXHAUSTED', `too many failed logins from this address; retry after ${blocked} s`,
        undefined, { retry_after_seconds: blocked });
    }
    throttle.take(host);
    throw new DomainError('UNAUTHENTICATED', 'unknown key');
  }

  return {
    credential,
    authorize(metadata, peer, claimed) {
      const own = credential(metadata, peer);
      if (!claimed || (!claimed.accountId && claimed.role === Role.ROLE_UNSPECIFIED)) return own;
      if (claimed.accountId === own.accountId && claimed.role === own.role) return own;
      const forwarder = own.role === Role.ROLE_SERVICE && options.forwarders.has(own.accountId);
      if (forwarder && claimed.accountId && USER_ROLES.has(claimed.role)) return { accountId: claimed.accountId, role: claimed.role };
      throw new DomainError('PERMISSION_DENIED', forwarder
        ? `a forwarded caller must be a client, provider or admin account, not ${roleName(claimed.role)}`
        : `this key acts only as ${roleName(own.role)} ${own.accountId}; it may not name caller ${roleName(claimed.role)} ${claimed.accountId || '(none)'}`);
    },
  };
}
