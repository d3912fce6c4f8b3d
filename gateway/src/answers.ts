/**
 * How answers are described: small schema builders, the problem+json schema, and `answers()`,
 * which gives a route its success answer and the problems it can give. The same schemas
 * serialise the answers (Fastify response schemas, fast-json-stringify) and feed
 * /openapi.json, so the description cannot drift from what is sent.
 */

export const str = { type: 'string' } as const;
export const strOrNull = { type: ['string', 'null'] } as const;
export const time = { type: 'string', format: 'date-time' } as const;
export const timeOrNull = { type: ['string', 'null'], format: 'date-time' } as const;
export const num = { type: 'number' } as const;
export const numOrNull = { type: ['number', 'null'] } as const;
export const int = { type: 'integer' } as const;
export const bool = { type: 'boolean' } as const;
export const strings = { type: 'array', items: str } as const;
export const ref = (id: string) => ({ $ref: `${id}#` });
export const listOf = (id: string) => ({ type: 'array' as const, items: ref(id) });

/**
 * An object answer with exactly these properties, all present unless named in `optional`
 * (an undocumented field is never sent: the serialiser only writes what is described).
 */
export function object(properties: Record<string, object>, optional: string[] = [], extra: Record<string, unknown> = {}) {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties).filter((k) => !optional.includes(k)), properties, ...extra };
}

/** A named schema: a component of the document, referred to as `ref(name)`. */
export const named = <S extends object>(id: string, description: string, schema: S, example?: unknown): S & { $id: string; description: string } =>
  ({ $id: id, description, ...schema, ...(example === undefined ? {} : { examples: [example] }) });

/** RFC 9457 problem details; extension members (`field`, `quote`, `alternatives`, `booked`, …) as the detail needs. */
export const problemSchema = named('Problem', 'RFC 9457 problem details, with `field` naming the offending input where there is one', {
  type: 'object', additionalProperties: true, required: ['type', 'title', 'status', 'detail'],
  properties: { type: str, title: str, status: int, detail: str, instance: str, field: str, trace_id: str },
}, { type: 'urn:aitbc:problem:bad-request', title: 'Bad Request', status: 400, detail: 'duration_hours: must be at most 720', instance: '/v1/marketplace/gpu/gpu_x/book', field: 'duration_hours' });

const PROBLEM_WHEN: Record<number, string> = {
  400: 'bad input (the detail names the field)', 401: 'no API key, or an unknown or revoked one', 402: 'not enough balance',
  403: "the key's role may not do this", 404: 'not found (or not yours)', 409: 'a conflict with the current state (the detail says which)',
  413: 'the body is larger than the limit', 414: 'a path segment is too long', 415: 'the body is not JSON', 422: 'an Idempotency-Key reused with another body',
  429: 'too many requests (see Retry-After)', 431: 'the headers are too large', 503: 'a backend is unavailable (see Retry-After); retry', 504: 'a backend did not answer in time',
};
/** What any route can answer: bad input, auth, limits, and a backend that is down or slow. */
const ALWAYS = [400, 404, 413, 414, 415, 429, 431, 503, 504];
const KEYED = [401, 403];
// A header is its JSON schema with a description (@fastify/swagger wraps it as OpenAPI wants).
const retryAfter = { 'Retry-After': { ...int, description: 'seconds to wait before retrying' } };

const problemAnswer = (status: number) => ({
  description: PROBLEM_WHEN[status],
  ...(status === 429 || status === 503 ? { headers: retryAfter } : {}),
  content: { 'application/problem+json': { schema: ref('Problem') } },
});

export interface AnswerOptions {
  /** Problems beyond the ones every route can give (402, 409, 422). */
  problems?: number[];
  /** Response headers of the success answer. */
  headers?: Record<string, { type: string; description: string }>;
  /** A public route: no key needed, so no 401 or 403. */
  public?: boolean;
  /** Further success statuses with the same schema (200 for an update where 201 is a creation). */
  also?: Record<number, string>;
  /** The success answer's media type (application/json). */
  contentType?: string;
}

/** A route's `response` schema: its success answer(s) and every problem it can give. */
export function answers(status: number, description: string, schema: object, options: AnswerOptions = {}) {
  const ok = (text: string) => ({ description: text, ...(options.headers ? { headers: options.headers } : {}), content: { [options.contentType ?? 'application/json']: { schema } } });
  const out: Record<number, object> = { [status]: ok(description) };
  for (const [s, text] of Object.entries(options.also ?? {})) out[Number(s)] = ok(text);
  for (const s of [...ALWAYS, ...(options.public ? [] : KEYED), ...(options.problems ?? [])]) out[s] = problemAnswer(s);
  return out;
}

/** The headers of a cursor-paged list answer. */
export const pageHeaders = {
  'X-Next-Cursor': { ...str, description: 'the next page\'s cursor (absent on the last page)' },
  Link: { ...str, description: 'the next page as `<url>; rel="next"`' },
};
