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
    for (const [part, value] of [['path', request.params], ['query parameter', request.query], ['body', request.body]] as const) {
      const bad = unsafeText(value);
      if (bad) throw new DomainError('INVALID_ARGUMENT', `${bad.field}: ${bad.problem}`, bad.field, { in: part });
    }
  });
}

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
