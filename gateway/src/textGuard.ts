import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../lib/errors';
import { textProblem } from '../../lib/text';

/** Fields whose text may break lines and hold tabs. */
const FREE_TEXT = new Set(['comment', 'description', 'notes', 'reason']);
/** Deeper JSON than this is refused: no request of this API nests more than a few levels. */
export const MAX_DEPTH = 32;

/**
 * No text that could hurt a terminal or a page reaches a service, whichever field it is in:
 * control characters (newlines and tabs only in free text) and broken Unicode are refused
 * naming the field, and so is JSON nested absurdly deep. The services check again for their
 * own gRPC callers.
 */
export function installTextGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const notText = undecodableQuery(request.raw.url ?? '');
    if (notText !== undefined) {
      throw new DomainError('INVALID_ARGUMENT', `${notText}: must be valid UTF-8 text (its percent-escapes are bytes that are not)`, notText, { in: 'query parameter' });
    }
    for (const [part, value] of [['path', request.params], ['query parameter', request.query], ['body', request.body]] as const) {
      const bad = unsafeText(value);
      if (bad) throw new DomainError('INVALID_ARGUMENT', `${bad.field}: ${bad.problem}`, bad.field, { in: part });
    }
  });
}

/**
 * The first query parameter (its name, as far as it decodes) whose percent-escapes are not
 * UTF-8, such as an encoded surrogate (%ED%A0%80) or a stray byte (%FF). The query parser
 * turns those into U+FFFD, which would pass every later check as ordinary text.
 */
export function undecodableQuery(url: string): string | undefined {
  const at = url.indexOf('?');
  if (at < 0 || !url.includes('%', at)) return undefined;
  for (const pair of url.slice(at + 1).split('&')) {
    const eq = pair.indexOf('=');
    const [name, value] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    const decodedName = decodes(name);
    if (decodedName === undefined) return 'query parameter name';
    if (decodes(value) === undefined) return decodedName;
  }
  return undefined;
}

const decodes = (text: string): string | undefined => {
  try {
    // A '%' that starts no escape is taken as itself, as the query parser takes it.
    return decodeURIComponent(text.replace(/\+/g, ' ').replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
  } catch {
    return undefined;
  }
};

/** The first string inside `value` that is not safe text (or the first place nested too deep), with its field. */
export function unsafeText(value: unknown): { field: string; problem: string } | undefined {
  // A loop over an explicit stack, not recursion: no input can exhaust the call stack.
  const stack: { value: unknown; field: string; depth: number }[] = [{ value, field: '', depth: 0 }];
  while (stack.length) {
    const item = stack.pop()!;
    if (typeof item.value === 'string') {
      const last = item.field.split('.').pop()!.replace(/\[\d+\]$/, '');
      const problem = textProblem(item.value, FREE_TEXT.has(last));
      if (problem) return { field: item.field || 'value', problem };
      continue;
    }
    if (!item.value || typeof item.value !== 'object') continue;
    if (item.depth >= MAX_DEPTH) return { field: item.field || 'body', problem: `is nested more than ${MAX_DEPTH} levels deep` };
    const entries: [string, unknown][] = Array.isArray(item.value)
      ? item.value.map((v, i) => [`${item.field}[${i}]`, v])
      : Object.entries(item.value).map(([k, v]) => [item.field ? `${item.field}.${k}` : k, v]);
    if (!Array.isArray(item.value)) {
      for (const key of Object.keys(item.value)) {
        const badKey = textProblem(key);
        if (badKey) return { field: item.field ? `${item.field}.${key}` : key, problem: `(a field name) ${badKey}` };
      }
    }
    // Pushed in reverse, so the first field is looked at first.
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i][1], field: entries[i][0], depth: item.depth + 1 });
  }
  return undefined;
}
