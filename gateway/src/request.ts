import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Caller } from '../../lib/caller';
import { DomainError } from '../../lib/errors';
import './deps';

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

/** Puts the next page's cursor in X-Next-Cursor and a Link header, so the body stays an array. */
export function setNextLinks(request: FastifyRequest, reply: FastifyReply, cursor: string): void {
  const url = new URL(request.url, 'http://gateway');
  url.searchParams.set('cursor', cursor);
  reply.header('X-Next-Cursor', cursor);
  reply.header('Link', `<${url.pathname}${url.search}>; rel="next"`);
}
