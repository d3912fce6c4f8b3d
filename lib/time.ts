import { invalid } from './errors';

/**
 * A time from a request as a Date: text Ajv's date-time takes but Date cannot hold (a leap
 * second, 23:59:60) or a Timestamp out of Date's range is refused naming the field, instead
 * of failing later where no field is known.
 */
export function requestTime(field: string, value: string | Date | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = value instanceof Date ? value : new Date(value);
  if (typeof value === 'string' && !realDate(value)) throw invalid(field, `names a day that does not exist (${value.trim().slice(0, 10)})`);
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1970 || at.getUTCFullYear() > 9999) {
    throw invalid(field, 'must be a UTC time from 1970 to 9999 like 2026-12-02T08:00:00Z (leap seconds, :60, are not accepted)');
  }
  return at;
}

/** The calendar date a time's text starts with exists: Date() would take 2026-02-30 for March 2nd. */
function realDate(text: string): boolean {
  const date = /^\s*(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!date) return true;
  const [year, month, day] = date.slice(1).map(Number);
  const probe = new Date(Date.UTC(year, month - 1, day));
  return probe.getUTCFullYear() === year && probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day;
}
