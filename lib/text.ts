import { invalid } from './errors';

/**
 * Characters no stored text may hold, because shown in a terminal or a page they do more
 * than print: C0 controls (escape sequences, bells, carriage returns that overwrite a line),
 * DEL, C1 controls (8-bit CSI), and the bidirectional overrides that make text read other
 * than it is stored ("Trojan Source"). Free text (comments, descriptions) may break lines
 * and hold tabs; names, ids and keys may not.
 */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
export const CONTROL_CHARS_IN_TEXT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
/** Half of a UTF-16 surrogate pair without its other half: not a character at all. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with `value` as text, or undefined when it is safe to store and show. */
export function textProblem(value: string, freeText = false): string | undefined {
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode text (it holds half of a surrogate pair)';
  const bad = (freeText ? CONTROL_CHARS_IN_TEXT : CONTROL_CHARS).exec(value);
  if (bad) {
    const code = `U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    return `must not contain control characters (found ${code} at position ${bad.index + 1})${freeText ? '; newlines and tabs are fine' : ''}`;
  }
  return undefined;
}

/** Throws INVALID_ARGUMENT naming `field` unless `value` is safe text. */
export function requireSafeText(field: string, value: string, freeText = false): string {
  const problem = textProblem(value, freeText);
  if (problem) throw invalid(field, problem);
  return value;
}
