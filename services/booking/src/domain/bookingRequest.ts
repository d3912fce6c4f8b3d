import { createHash } from 'node:crypto';
import { isAccountId } from '../../../../lib/caller';
import { invalid } from '../../../../lib/errors';
import { withinOfferHours } from '../../../../lib/offerHours';
import { textProblem } from '../../../../lib/text';
import { requestTime } from '../../../../lib/time';
import { durationSeconds } from './billing';

/** Advance reservations may start at most this far ahead. */
export const MAX_ADVANCE_MS = 90 * 24 * 3600 * 1000;
/** A start this little in the past (clock skew, slow networks) is taken as now. */
export const START_SKEW_MS = 60_000;
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/** A booking request as the handlers receive it. */
export interface BookingRequest {
  clientId: string;
  gpuId: string;
  durationHours: number;
  startTime?: Date;
  jobId: string;
  maxTotalCostMicro?: number;
  dryRun: boolean;
  idempotencyKey: string;
}

/** A request checked against the rules: its window, and what identifies it for replays. */
export interface BookingPlan {
  seconds: number;
  start: Date;
  end: Date;
  /** Starts later than now: checked against its GPU's liveness when its window opens. */
  reservation: boolean;
  jobId: string;
  /** Every input that shapes the booking: a replay of an Idempotency-Key must match it. */
  requestHash: string;
}

/**
 * The rules a booking request must meet, at `now`: a duration of whole seconds (0–720 h), a
 * start not in the past (up to a minute of skew is taken as now) and at most 90 days ahead,
 * a job id of letters, digits and ._:/-, a client that is an account id, a non-negative
 * cost ceiling and a printable Idempotency-Key. Each problem names its field.
 */
export function planBooking(req: BookingRequest, now: Date): BookingPlan {
  const seconds = durationSeconds(req.durationHours);
  const asked = requestTime('start_time', req.startTime);
  let start = asked ?? now;
  if (start.getTime() < now.getTime() - START_SKEW_MS) throw invalid('start_time', 'must not be in the past');
  if (start < now) start = now;
  if (start.getTime() > now.getTime() + MAX_ADVANCE_MS) throw invalid('start_time', 'must be within 90 days');
  const jobId = req.jobId.trim();
  if (jobId && !JOB_ID.test(jobId)) throw invalid('job_id', 'must be 1-128 letters, digits or ._:/-');
  if (!req.clientId) throw invalid('client_id', 'is required for bookings made by a service');
  if (!isAccountId(req.clientId)) throw invalid('client_id', 'must be an account id: 1-64 letters, digits, ".", "_" or "-"');
  if (req.maxTotalCostMicro !== undefined && req.maxTotalCostMicro < 0) throw invalid('total_cost', 'must not be negative');
  const key = req.idempotencyKey;
  if (key && (key.length > 200 || textProblem(key))) throw invalid('Idempotency-Key', 'must be at most 200 printable characters');
  const requestHash = createHash('sha256').update(JSON.stringify([
    req.clientId, req.gpuId, seconds, asked?.toISOString() ?? null, jobId, req.maxTotalCostMicro ?? null, req.dryRun,
  ])).digest('hex');
  return { seconds, start, end: new Date(start.getTime() + seconds * 1000), reservation: start > now, jobId, requestHash };
}

/** What a job's booking must name: the client (an account id) and the job (letters, digits, ._:/-). */
export function requireJobFields(clientId: string, jobId: string): void {
  if (!jobId) throw invalid('job_id', 'is required');
  if (!JOB_ID.test(jobId)) throw invalid('job_id', 'must be 1-128 letters, digits or ._:/-');
  if (!clientId) throw invalid('client_id', 'is required');
  if (!isAccountId(clientId)) throw invalid('client_id', 'must be an account id: 1-64 letters, digits, ".", "_" or "-"');
}

/** A GPU with an open offer is booked for between its minimum and maximum hours. */
export function requireOfferHours(seconds: number, offer: { offer_min_hours: number | null; offer_max_hours: number | null }): void {
  const { offer_min_hours: min, offer_max_hours: max } = offer;
  if (!withinOfferHours(seconds, min, max)) {
    throw invalid('duration_hours', `must be from ${min} to ${max} hours: the GPU's offer says so`);
  }
}
