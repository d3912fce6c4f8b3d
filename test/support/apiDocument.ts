import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * Checks every answer a test receives from a gateway against the gateway's own served
 * /openapi.json: the status must be documented for the route, and the body must match the
 * documented schema of that status and content type. An undocumented status or a body that
 * does not match throws, failing the test that received it.
 */
type Doc = { paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema: object }> }> }>>; components: { schemas: Record<string, object> } };
interface Checker { doc: Doc; ajv: Ajv2020; routes: { template: string; pattern: RegExp; literals: number }[]; compiled: Map<string, ValidateFunction> }

const checkers = new Map<string, Promise<Checker>>();

/** The document's $refs point into its components; Ajv gets them as one schema named `api`. */
function withoutIds(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutIds);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== '$id' && k !== 'examples').map(([k, v]) =>
    [k, k === '$ref' && typeof v === 'string' ? v.replace(/^#\/components/, 'api#/components') : withoutIds(v)]));
}

async function load(base: string): Promise<Checker> {
  const res = await fetch(`${base}/openapi.json`);
  const doc = withoutIds(await res.json()) as Doc;
  if (res.status !== 200 || !doc.paths) throw new Error(`${base}/openapi.json answered ${res.status} without a document`);
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);
  ajv.addSchema({ $id: 'api', components: doc.components });
  const routes = Object.keys(doc.paths).map((template) => ({
    template,
    pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    literals: template.split('/').filter((s) => s && !s.startsWith('{')).length,
  }));
  return { doc, ajv, routes, compiled: new Map() };
}

/** The documented route a request path is, preferring literal segments (`/gpu/list` over `/gpu/{id}`). */
function routeOf(checker: Checker, path: string) {
  return checker.routes.filter((r) => r.pattern.test(path)).sort((a, b) => b.literals - a.literals)[0];
}

export async function checkAnswer(base: string, method: string, url: string, status: number, contentType: string, body: unknown): Promise<void> {
  if (!checkers.has(base)) checkers.set(base, load(base));
  const checker = await checkers.get(base)!;
  // Matched as sent: the router matches encoded segments too (a %2F stays inside its parameter).
  const path = url.split('?')[0];
  const route = routeOf(checker, path);
  const operation = route && checker.doc.paths[route.template][method.toLowerCase()];
  const type = contentType.split(';')[0].trim();
  const where = `${method} ${url.slice(0, 200)} → ${status}`;
  if (!operation || !operation.responses) {
    // No such route or method: the router's own answer, which must still be a problem.
    if (type !== 'application/problem+json' && !(route && method === 'HEAD')) throw new Error(`${where}: an undocumented route answered ${type || 'no body'}`);
    if (type === 'application/problem+json') validate(checker, 'api#/components/schemas/Problem', body, where);
    return;
  }
  const answer = operation.responses[String(status)];
  if (!answer) throw new Error(`${where}: status ${status} is not documented for ${method} ${route.template} (${JSON.stringify(body).slice(0, 300)})`);
  if (method === 'HEAD' || body === undefined) return;
  const media = answer.content?.[type];
  if (!media) throw new Error(`${where}: content type ${type} is not documented for status ${status} of ${route.template}`);
  const key = `${method} ${route.template} ${status} ${type}`;
  if (!checker.compiled.has(key)) checker.compiled.set(key, checker.ajv.compile(media.schema));
  const check = checker.compiled.get(key)!;
  if (!check(body)) throw new Error(`${where}: the body does not match the documented schema: ${checker.ajv.errorsText(check.errors)} in ${JSON.stringify(body).slice(0, 400)}`);
}

function validate(checker: Checker, ref: string, body: unknown, where: string) {
  const check = checker.ajv.getSchema(ref);
  if (!check) throw new Error(`no schema ${ref}`);
  if (!check(body)) throw new Error(`${where}: the problem does not match the Problem schema: ${checker.ajv.errorsText(check.errors)}`);
}

/** Every example in a document (components' and request bodies') that does not match its own schema. */
export function exampleProblems(served: unknown): string[] {
  const examples: [string, unknown, object][] = [];
  type Media = { schema: object; example?: unknown; examples?: Record<string, { value: unknown }> };
  const doc = served as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, Media> } }>>; components: { schemas: Record<string, { examples?: unknown[] }> } };
  for (const [name, schema] of Object.entries(doc.components.schemas)) for (const ex of schema.examples ?? []) examples.push([name, ex, { $ref: `api#/components/schemas/${name}` }]);
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      // @fastify/swagger moves a body schema's examples to the media type (`example`, or `examples` when several).
      const media = op.requestBody?.content?.['application/json'];
      const given = media ? [...(media.example === undefined ? [] : [media.example]), ...Object.values(media.examples ?? {}).map((e) => e.value)] : [];
      for (const ex of given) examples.push([`${method} ${path}`, ex, withoutIds(media!.schema) as object]);
    }
  }
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  ajv.addSchema({ $id: 'api', components: (withoutIds(doc) as Doc).components });
  return examples.flatMap(([where, ex, schema]) => {
    const check = ajv.compile(schema);
    return check(ex) ? [] : [`${where}: ${ajv.errorsText(check.errors)}`];
  });
}
