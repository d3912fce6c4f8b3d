import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';

/** Error codes the domain speaks; each maps to one gRPC status (and, at the gateway, one HTTP status). */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'INTERNAL';

/**
 * The one error type the domain throws. `field` names the offending input (for 400s);
 * `details` carries machine-readable extras (for example a current quote on a conflict).
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (field: string, message: string): DomainError =>
  new DomainError('INVALID_ARGUMENT', `${field}: ${message}`, field);
export const notFound = (what: string): DomainError => new DomainError('NOT_FOUND', `${what} not found`);

const GRPC_CODE: Record<ErrorCode, GrpcStatus> = {
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  ABORTED: GrpcStatus.ABORTED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  INTERNAL: GrpcStatus.INTERNAL,
};

/** Metadata keys that carry a DomainError's field and details across a gRPC hop. */
const FIELD_KEY = 'x-error-field';
const DETAILS_KEY = 'x-error-details-bin';
/** Set on every status a handler answered with, so a client can tell it from a transport failure. */
const DOMAIN_KEY = 'x-error-domain';

/**
 * What a database failure means to the caller, or undefined for errors that are bugs. Out of
 * time or out of reach before anything ran: UNAVAILABLE, nothing was changed. A connection
 * lost mid-way: UNAVAILABLE, without that promise (a commit in flight may have landed). A
 * deadlock or serialization failure: ABORTED, rolled back, retry now.
 */
export function fromDatabaseError(err: unknown): DomainError | undefined {
  const { code, name } = (err ?? {}) as { code?: string; name?: string };
  const message = err instanceof Error ? err.message : '';
  // 57014: statement deadline; 53: out of connections, disk or memory; 57P03: starting up.
  if (code === '57014' || /^53/.test(code ?? '') || code === '57P03' || code === 'ECONNREFUSED' || name === 'KnexTimeoutError') {
    return new DomainError('UNAVAILABLE', 'the database did not answer in time; nothing was changed, retry shortly');
  }
  // 08: connection failures; 57P01/02: the server shut down under us.
  if (/^(08|57P0[12])/.test(code ?? '') || code === 'ECONNRESET' || /^Query read timeout$|Connection terminated/.test(message)) {
    return new DomainError('UNAVAILABLE', 'the connection to the database was lost; retry shortly');
  }
  // 22: data exceptions (a NUL in text, a number or time out of range). Input should be
  // checked long before it gets here; if some is not, it is still the caller's to fix.
  if (/^22/.test(code ?? '')) {
    return new DomainError('INVALID_ARGUMENT', 'a value in the request cannot be stored (out of range, or not valid text); nothing was changed');
  }
  if (code === '40P01' || code === '40001') {
    return new DomainError('ABORTED', 'a concurrent change got in the way; nothing was changed, retry');
  }
  return undefined;
}

/**
 * The longest error message sent back. A message may quote the request (an id 300 KB long):
 * trailers past the peer's header limit are dropped, and the call then hangs to its deadline.
 */
const MAX_MESSAGE = 1000;
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Turns any thrown value into a gRPC status object; unknown errors never leak their text. */
export function toGrpcError(err: unknown): Partial<ServiceError> & { code: GrpcStatus } {
  err = fromDatabaseError(err) ?? err;
  if (err instanceof DomainError) {
    const metadata = new Metadata();
    metadata.set(DOMAIN_KEY, '1');
    if (err.field) metadata.set(FIELD_KEY, clip(err.field, 200));
    if (err.details) metadata.set(DETAILS_KEY, Buffer.from(JSON.stringify(err.details)));
    return { code: GRPC_CODE[err.code], details: clip(err.message, MAX_MESSAGE), metadata };
  }
  return { code: GrpcStatus.INTERNAL, details: 'internal error' };
}

const CODE_BY_GRPC = new Map<number, ErrorCode>(
  Object.entries(GRPC_CODE).map(([code, grpc]) => [grpc, code as ErrorCode]),
);

/** Rebuilds a DomainError from a gRPC ServiceError received by a client. */
export function fromGrpcError(err: ServiceError): DomainError {
  const code = CODE_BY_GRPC.get(err.code) ?? 'INTERNAL';
  const field = err.metadata?.get(FIELD_KEY)[0];
  const raw = err.metadata?.get(DETAILS_KEY)[0];
  let details: Record<string, unknown> | undefined;
  if (Buffer.isBuffer(raw)) {
    try {
      details = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      details = undefined;
    }
  }
  // A connection failure has code UNAVAILABLE and a transport message not meant for users;
  // an UNAVAILABLE a handler answered with (its database, say) keeps its own message.
  const fromHandler = err.metadata?.get(DOMAIN_KEY)[0] === '1';
  const message = code === 'UNAVAILABLE' && !fromHandler ? 'a backing service is unavailable' : err.details || code;
  return new DomainError(code, message, typeof field === 'string' ? field : undefined, details);
}

/** gRPC status → HTTP status, as ARCHITECTURE.md lays it down. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  INTERNAL: 500,
};
