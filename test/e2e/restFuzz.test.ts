import assert from 'node:assert/strict';
import fc from 'fast-check';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

/** What a sane request puts in a field, by name: hostile values go in one field at a time. */
const SAMPLE: Record<string, unknown> = {
  name: 'RTX 4090', model: 'RTX 4090', memory_gb: 24, memory: 24, price_per_hour: 0.5, cuda_cores: 16384, description: 'a rig',
  duration_hours: 1, total_cost: 100, rating: 4, comment: 'fine', action: 'hide', reason: 'spam', base_price: 1, limit: 5,
  status: 'available', inflight: 0, 'x-miner-id': 'fuzz-rig', 'idempotency-key': 'fuzz-key',
};

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');

/** Text no client should be able to turn into a 5xx: each of these goes into every field. */
const HOSTILE_TEXT = [
    '\u0000', 'a\u0000b', '\u001b]0;pwned\u0007\u001b[2J', '\ud800', 'x\udc00y', '\u202egnp.exe', '\u009b31m', '2026-12-31T23:59:60Z',
    '1e300', '-1e300', '0.5', '-1', 'NaN', 'Infinity', '%', '%%41', '../../etc/passwd', "'; DROP TABLE gpus; --", 'x'.repeat(5000),
    'MQ', 'MjAyNg', b64(['price', 1.5, 'x']), b64(['price', 1e300, 'gpu_x']), b64(['memory', 0.5, 'x']), b64(['1', 'x']), b64(['x 2020', 'x']),
    b64(['newest', '2026-12-31T23:59:60Z', 'gpu_aaaaaaaaaaaaaaaaaaaa']), '',
];
/** And so many more drawn at random (a fixed seed: a failure repeats). */
const RANDOM_RUNS = 10;
const hostileText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.json({ maxDepth: 2 }).map(b64),
  fc.tuple(fc.constantFrom('price', '-price', 'newest', 'memory', 'rating'), fc.oneof(fc.double(), fc.string(), fc.integer()), fc.string())
    .map(b64),
);
/** Any JSON value a body field might receive instead of what it expects. */
const HOSTILE_JSON = [...HOSTILE_TEXT, 1e300, -1e300, 0.5, 1.5e-7, -0, Number.MAX_SAFE_INTEGER + 2, 2 ** 63, -1, 0, null, true, [], {}, [1, 'x'], { a: { b: 1 } }];
const hostileJson = fc.oneof(hostileText, fc.double({ noNaN: true }), fc.integer(), fc.jsonValue({ maxDepth: 2 }));

/** Percent-encodes text byte by byte (encodeURIComponent throws on lone surrogates). */
function pathSegment(text: string): string {
  if (text === '%' || text === '%%41') return text; // malformed escapes, on purpose
  return [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
}

interface Operation {
  method: string;
  path: string;
  params: { in: string; name: string }[];
  body?: { properties: Record<string, any>; required?: string[] };
}

/** A sane body for a schema: required fields (and those we know) with their samples. */
function saneBody(schema: { properties?: Record<string, any>; required?: string[] } | undefined): Record<string, unknown> | undefined {
  if (!schema?.properties) return undefined;
  const out: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries<any>(schema.properties)) {
    if (prop.type === 'object' || prop.properties) {
      if (schema.required?.includes(name)) out[name] = saneBody(prop) ?? {};
    } else if (name in SAMPLE && name !== 'status' && name !== 'limit') {
      out[name] = SAMPLE[name];
    }
  }
  if (schema.properties.capabilities?.properties?.gpu) out.capabilities = { gpu: { model: 'RTX 4090', memory_gb: 24 } };
  return out;
}

/** Every (field, place) of an operation, with a setter putting a value there. */
function fieldsOf(op: Operation) {
  const out: { field: string; apply: (req: Req, v: unknown) => void; text: boolean }[] = [];
  for (const p of op.params) {
    out.push({ field: `${p.in}:${p.name}`, text: true, apply: (req, v) => {
      const s = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
      if (p.in === 'path') req.path = req.path.replace(`{${p.name}}`, pathSegment(s));
      else if (p.in === 'query') req.query.set(p.name, s);
      else if (p.in === 'header') req.headers[p.name] = s.replace(/[^\t\x20-\x7e]/g, '?'); // fetch refuses other bytes
    } });
  }
  const walk = (schema: any, prefix: string[]) => {
    for (const [name, prop] of Object.entries<any>(schema?.properties ?? {})) {
      const at = [...prefix, name];
      if (prop.properties) walk(prop, at);
      out.push({ field: `body:${at.join('.')}`, text: false, apply: (req, v) => {
        let target = (req.body ??= {}) as Record<string, unknown>;
        for (const key of at.slice(0, -1)) target = (target[key] ??= {}) as Record<string, unknown>;
        target[at[at.length - 1]] = v;
      } });
    }
  };
  if (op.body) walk(op.body, []);
  return out;
}

interface Req {
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body?: Record<string, unknown>;
}

describe('REST API under hostile input (property test over every field the OpenAPI document names)', function () {
  this.timeout(180_000);
  let mesh: TestMesh;
  const ids: Record<string, string> = {};
  before(async () => {
    mesh = await startTestMesh({ RATE_LIMIT_PER_SECOND: '0' });
    const gpu = await http(mesh.url, 'POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, body: { gpu: { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.5 } } });
    ids.id = gpu.body.gpu_id;
    ids.model = 'RTX 4090';
    const booked = await http(mesh.url, 'POST', `/v1/marketplace/gpu/${ids.id}/book`, { key: KEYS.client, body: { duration_hours: 1 } });
    ids.booking = booked.body.booking_id;
  });
  after(() => mesh?.stop());

  it('never answers 5xx, and every error is problem+json', async () => {
    const doc = (await http(mesh.url, 'GET', '/openapi.json')).body;
    const operations: Operation[] = [];
    for (const [path, methods] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(methods)) {
        // An event stream never ends, so it has no answer to wait for here: gpuEvents.test.ts covers it.
        if (Object.values<any>(op.responses).some((r) => r.content?.['text/event-stream'])) continue;
        operations.push({ method: method.toUpperCase(), path, params: op.parameters ?? [], body: op.requestBody?.content?.['application/json']?.schema });
      }
    }
    assert.ok(operations.length >= 20, `${operations.length} operations`);
    let sent = 0;
    const failures: string[] = [];
    for (const op of operations) {
      // The key whose role the route takes (the first not refused with 403).
      const sane = (): Req => ({ path: op.path, query: new URLSearchParams(), headers: {}, body: saneBody(op.body) });
      // Path parameters not being fuzzed name real objects.
      const fill = (path: string) => path
        .replace('{id}', op.path.startsWith('/v1/marketplace/bookings') ? ids.booking : ids.id)
        .replace('{model}', encodeURIComponent(ids.model)).replace('{review_id}', 'rev_aaaaaaaaaaaaaaaaaaaa');
      const send = async (req: Req, key: string) => {
        req.path = fill(req.path);
        const query = req.query.toString();
        sent++;
        return http(mesh.url, op.method, `${req.path}${query ? `?${query}` : ''}`, { key, headers: req.headers, body: req.body });
      };
      let key = KEYS.client;
      for (const candidate of [KEYS.client, KEYS.provider, KEYS.admin]) {
        if ((await send(sane(), candidate)).status !== 403) {
          key = candidate;
          break;
        }
      }
      for (const [i, field] of fieldsOf(op).entries()) {
        const values = field.text
          ? [...HOSTILE_TEXT, ...fc.sample(hostileText, { numRuns: RANDOM_RUNS, seed: 2026 + i })]
          : [...HOSTILE_JSON, ...fc.sample(hostileJson, { numRuns: RANDOM_RUNS, seed: 2026 + i })];
        for (const value of values) {
          const req = sane();
          field.apply(req, value);
          const res = await send(req, key);
          const problem = res.status < 400 || (/^application\/problem\+json/.test(res.headers.get('content-type') ?? '')
            && typeof res.body?.detail === 'string' && res.body.status === res.status);
          if (res.status >= 500 || !problem) {
            failures.push(`${op.method} ${op.path} ${field.field}=${JSON.stringify(value)?.slice(0, 80)} → ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)}`);
          }
        }
      }
    }
    process.stdout.write(`      (${sent} requests over ${operations.length} operations)\n`);
    assert.deepEqual(failures, []);
  });
});
