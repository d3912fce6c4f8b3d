import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, HTTP_STATUS } from '../../lib/errors';
import { toUnits } from '../../lib/money';
import type { Logger } from '../../lib/logger';
import { requestTraceId } from './requestTracing';

/** RFC 9457 problem details, plus `field` naming the offending input where there is one. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  field?: string;
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 409: 'Conflict', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function problem(status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  const title = TITLES[status] ?? 'Error';
  // Extras never override the problem's own members (a detail named `status` stays a detail's).
  return { ...extra, type: `urn:aitbc:problem:${title.toLowerCase().replace(/ /g, '-')}`, title, status, detail };
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  // A backend that is down or overloaded is usually back within moments: say when to retry
  // (a 429 sets its own Retry-After).
  if (p.status === 503 && !reply.hasHeader('retry-after')) reply.header('Retry-After', '1');
  // The request's trace, to find what happened behind the answer (none when tracing is off).
  const traceId = requestTraceId(reply.request);
  return reply.code(p.status).type('application/problem+json').send(traceId ? { ...p, trace_id: traceId } : p);
}

/**
 * The few refusals whose HTTP status is finer than their gRPC code: a reused
 * Idempotency-Key with another body is 422 (INVALID_ARGUMENT alone would be 400), not
 * enough balance is 402 (FAILED_PRECONDITION alone would be 409).
 */
const REASON_STATUS: Record<string, number> = { idempotency_key_reused: 422, insufficient_funds: 402 };

/**
 * One error handler for the whole gateway: schema failures and DomainErrors (from gRPC) get
 * their status and message; Fastify's own 4xx keep theirs; anything else is logged and
 * answered with a fixed 500 text.
 */
export function errorHandler(logger: Logger) {
  return (error: FastifyError | DomainError, request: FastifyRequest, reply: FastifyReply) => {
    const instance = request.url.split('?')[0];
    if (error instanceof DomainError) {
      const status = REASON_STATUS[String(error.details?.reason)] ?? HTTP_STATUS[error.code];
      if (status >= 500) logger.warn({ code: error.code, detail: error.message, url: instance }, 'backend failure');
      return sendProblem(reply, problem(status, error.message, { instance, field: error.field, ...inUnits(error.details ?? {}) }));
    }
    const fe = error as FastifyError & { validation?: ErrorObject[]; validationContext?: string };
    if (fe.validation) {
      const { field, detail } = describeValidation(mostSpecific(fe.validation), fe.validationContext ?? 'body');
      return sendProblem(reply, problem(400, detail, { instance, field }));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return sendProblem(reply, problem(fe.statusCode, fe.message, { instance }));
    }
    logger.error({ err: error, url: instance }, 'unhandled error');
    return sendProblem(reply, problem(500, 'internal error', { instance }));
  };
}

/** JSON Schema type names as a person would say them ("must be a number", not "must be number"). */
const TYPE_WORDS: Record<string, string> = {
  number: 'a number', integer: 'a whole number', string: 'a string', boolean: 'true or false', object: 'an object', array: 'a list',
};

/** Bounds in words ("must be at most 500", not "must be <= 500"); other keywords keep Ajv's text. */
const BOUND_WORDS: Record<string, (params: Record<string, unknown>) => string> = {
  maximum: (p) => `must be at most ${p.limit}`,
  minimum: (p) => `must be at least ${p.limit}`,
  exclusiveMaximum: (p) => `must be less than ${p.limit}`,
  exclusiveMinimum: (p) => `must be more than ${p.limit}`,
  maxLength: (p) => `must be at most ${p.limit} characters`,
  minLength: (p) => (p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters`),
  maxItems: (p) => `must have at most ${p.limit} items`,
};

/** Names the field an Ajv error is about (`gpu.memory_gb`, `limit`) and says what is wrong. */
export function describeValidation(err: ErrorObject, context: string): { field: string; detail: string } {
  const base = err.instancePath.split('/').filter(Boolean).map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '');
  const join = (name: string) => (base ? `${base}.${name}` : name);
  const where = context === 'body' ? 'body' : context === 'querystring' ? 'query parameter' : context;
  switch (err.keyword) {
    case 'additionalProperties': {
      const field = join(String(err.params.additionalProperty));
      return { field, detail: `${field}: unknown ${where === 'body' ? 'field' : where}` };
    }
    case 'required': {
      const field = join(String(err.params.missingProperty));
      return { field, detail: `${field}: is required` };
    }
    case 'type': {
      const types = String(err.params.type).split(',').map((t) => TYPE_WORDS[t] ?? t);
      return { field: base || where, detail: `${base || where}: must be ${types.join(' or ')}` };
    }
    default:
      return { field: base || where, detail: `${base || where}: ${BOUND_WORDS[err.keyword]?.(err.params) ?? err.message ?? 'is invalid'}` };
  }
}

/**
 * Of several schema errors (a oneOf reports one per branch), the deepest one says most about
 * what to fix: "capabilities.gpu[1].memory_gb" beats "capabilities.gpu: must be an object".
 */
function mostSpecific(errors: ErrorObject[]): ErrorObject {
  const real = errors.filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  const depth = (e: ErrorObject) => e.instancePath.split('/').length + (e.keyword === 'additionalProperties' || e.keyword === 'required' ? 1 : 0);
  return (real.length ? real : errors).reduce((best, e) => (depth(e) > depth(best) ? e : best));
}

/** Details in micro-AITBC (`missing_micro`) as the API shows money: AITBC (`missing`). */
function inUnits(details: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(details).map(([k, v]) =>
    (k.endsWith('_micro') && typeof v === 'number' ? [k.slice(0, -6), toUnits(v)] : [k, v])));
}
