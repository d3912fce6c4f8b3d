import { DomainError } from '../../../../lib/errors';
import { formatMoney } from '../../../../lib/money';

/** A live booking in the way of a new one. */
export interface Overlap {
  booking_id: string;
  client_id: string;
  end_time: Date;
}

/**
 * The conflict of a booking refused for overlapping live ones (`taken`, the last to end
 * first), saying when the GPU is free again (`booked_until`) so the client can act on it.
 * When one in the way is the client's own (a retry after a timed-out answer, say) it names
 * it. With nothing in the way any more (it ended meanwhile), a retry may succeed.
 */
export function overlapConflict(gpuId: string, taken: Overlap[], clientId: string): DomainError {
  if (!taken.length) return new DomainError('FAILED_PRECONDITION', `GPU ${gpuId} was booked for an overlapping time; try again`);
  const until = taken[0].end_time.toISOString();
  const mine = taken.find((b) => b.client_id === clientId);
  if (mine) {
    return new DomainError('FAILED_PRECONDITION',
      `you already hold booking ${mine.booking_id} on GPU ${gpuId} until ${mine.end_time.toISOString()}; ` +
      `release it first, or pick a start_time at or after ${until}`,
      undefined, { booked_until: until, booking_id: mine.booking_id });
  }
  return new DomainError('FAILED_PRECONDITION',
    `GPU ${gpuId} is already booked until ${until}; pick another GPU, or a start_time at or after ${until}`,
    undefined, { booked_until: until });
}

/** A job holds one live booking at a time: the refusal names the one it holds. */
export function jobConflict(jobId: string, heldBookingId: string | undefined): DomainError {
  return new DomainError('ALREADY_EXISTS',
    `job ${jobId} already holds ${heldBookingId ? `live booking ${heldBookingId}` : 'a live booking'}; a job holds one live booking at a time`,
    'job_id', { booking_id: heldBookingId, reason: 'job_has_booking' });
}

/** The cost ceiling the client gave is below the current cost: the refusal carries the quote. */
export function tooExpensive(totalCostMicro: number, ceilingMicro: number, quote: Record<string, unknown>): DomainError {
  return new DomainError('FAILED_PRECONDITION',
    `the current cost is ${formatMoney(totalCostMicro)} AITBC, more than total_cost ${formatMoney(ceilingMicro)}; ` +
    'book again with a total_cost of at least the current cost', 'total_cost', { quote });
}

/** A GPU that is offline cannot be booked now. */
export const gpuOffline = (gpuId: string): DomainError =>
  new DomainError('FAILED_PRECONDITION', `GPU ${gpuId} is offline; pick an available one`);
