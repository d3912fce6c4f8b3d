import { invalid } from './errors';

/** Money is integer micro-units inside: 1 AITBC = 1,000,000 micro. */
export const MICRO_PER_UNIT = 1_000_000;

const DECIMAL = /^(0|[1-9]\d{0,9})(?:\.(\d{1,6}))?$/;
/** The largest amount taken (9 billion AITBC): below 2^53 micro, so every sum of a few stays exact. */
export const MAX_AMOUNT_MICRO = 9_000_000_000_000_000;
const RANGE = 'must be a non-negative amount of at most 9,000,000,000 AITBC with at most 6 decimals';

/**
 * Parses an amount in AITBC (a JSON number or a decimal string) into exact micro-units.
 * Goes through the decimal text, never through float arithmetic, so 0.1 is exactly 100000.
 * Refuses negatives, more than 6 decimals, exponents and amounts above 9 billion.
 */
export function parseMoney(value: unknown, field: string): number {
  // From 2^33 AITBC up, a JSON number (a double) cannot hold 6 decimals: 8717854081.271348
  // arrives as …271349. Such amounts are exact only as strings.
  if (typeof value === 'number' && value >= 2 ** 33 && !Number.isInteger(value)) {
    throw invalid(field, 'is too large to carry its decimals exactly as a JSON number; send it as a JSON string ("8717854081.271348")');
  }
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined) throw invalid(field, 'must be a number of AITBC');
  const match = DECIMAL.exec(text);
  if (!match) {
    if (/^-/.test(text)) throw invalid(field, 'must not be negative');
    throw invalid(field, RANGE);
  }
  const whole = Number(match[1]);
  const fraction = Number((match[2] ?? '').padEnd(6, '0'));
  const micro = whole * MICRO_PER_UNIT + fraction;
  // Exact integers end at 2^53 micro (about 9.007 billion AITBC): past it a sum could not be exact.
  if (micro > MAX_AMOUNT_MICRO) throw invalid(field, RANGE);
  return micro;
}

/** Micro-units → a JSON number in AITBC. Exact for every value below 2^53 micro. */
export function toUnits(micro: number): number {
  return Number(formatMoney(micro));
}

/** Micro-units → a decimal string with up to 6 decimals, trailing zeros dropped. */
export function formatMoney(micro: number): string {
  if (!Number.isSafeInteger(micro)) throw new RangeError(`not an exact micro amount: ${micro}`);
  const sign = micro < 0 ? '-' : '';
  const abs = Math.abs(micro);
  const whole = Math.floor(abs / MICRO_PER_UNIT);
  const fraction = String(abs % MICRO_PER_UNIT).padStart(6, '0').replace(/0+$/, '');
  return fraction ? `${sign}${whole}.${fraction}` : `${sign}${whole}`;
}

/** a × b / c rounded half up, exactly (BigInt), for non-negative integers. */
export function mulDivRound(a: number, b: number, c: number): number {
  return Number((BigInt(a) * BigInt(b) * 2n + BigInt(c)) / (2n * BigInt(c)));
}
