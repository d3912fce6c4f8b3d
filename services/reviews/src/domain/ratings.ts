import { invalid } from '../../../../lib/errors';
import { requireSafeText } from '../../../../lib/text';

export const COMMENT_MAX = 2000;
export const REASON_MAX = 500;

/** A rating is an integer from 1 to 5. */
export function cleanRating(rating: unknown, field = 'rating'): number {
  if (typeof rating !== 'number' || !Number.isInteger(rating) || rating < 1 || rating > 5) {
    throw invalid(field, 'must be a whole number from 1 to 5');
  }
  return rating;
}

/** A comment: optional, trimmed, at most 2,000 characters, no control characters; blank is none. */
export function cleanComment(comment: string | null | undefined, field = 'comment'): string | null {
  if (comment === undefined || comment === null) return null;
  const text = comment.trim();
  if (!text) return null;
  if ([...text].length > COMMENT_MAX) throw invalid(field, `must be at most ${COMMENT_MAX} characters`);
  return requireSafeText(field, text, true);
}

export function cleanReason(reason: string): string {
  const text = reason.trim();
  if (!text) throw invalid('reason', 'is required: say why (it is kept with the review)');
  if ([...text].length > REASON_MAX) throw invalid('reason', `must be at most ${REASON_MAX} characters`);
  return requireSafeText('reason', text, true);
}

/** The counts a GPU's summary keeps: visible reviews per rating (index 0 is rating 1). */
export type Histogram = [number, number, number, number, number];

export const emptyHistogram = (): Histogram => [0, 0, 0, 0, 0];

export const totalOf = (h: Histogram): number => h.reduce((a, b) => a + b, 0);
export const sumOf = (h: Histogram): number => h.reduce((a, n, i) => a + n * (i + 1), 0);

/** The average of a histogram to two decimals, half up, in exact integer arithmetic. 0 for none. */
export function averageOf(h: Histogram): number {
  const total = totalOf(h);
  if (!total) return 0;
  const hundredths = Math.floor((sumOf(h) * 200 + total) / (2 * total));
  return hundredths / 100;
}
