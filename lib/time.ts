import { invalid } from './errors';

/**
 * A time from a request as a Date: text Ajv's date-time takes but Date cannot hold (a leap
 * second, 23:59:60) or a Timestamp out of Date's range is refused naming the field, instead
 * of failing later where no field is known.
 */
export function requestTime(field: string, value: string | Date | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const at = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1970 || at.getUTCFullYear() > 9999) {
    throw invalid(field, 'must be a UTC time from 1970 to 9999 like 2026-12-02T08:00:00Z (leap seconds, :60, are not accepted)');
  }
  return at;
}
