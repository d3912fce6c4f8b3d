import { secondsUsed, settle } from './billing';

/** Where a booking is in its life. Only `active` bookings change; the others are final. */
export type BookingStatusName = 'active' | 'completed' | 'released' | 'cancelled';
export type EndedStatus = Exclude<BookingStatusName, 'active'>;

/** Why a booking ends. */
export type EndCause =
  | 'released' // the client ended it early
  | 'expired' // its end time came
  | 'job_completed' // the coordinator's job succeeded
  | 'job_failed' // the job failed (not the miner's fault)
  | 'job_failed_miner' // the miner failed the job
  | 'gpu_offline' // the GPU went away while it ran
  | 'unregistered' // its GPU was unregistered (forced)
  | 'never_started'; // a reservation whose GPU was offline when its window opened

/** What a booking needs to be settled: its window, length, total and when it was made. */
export interface BookingFacts {
  start_time: Date;
  end_time: Date;
  duration_seconds: number;
  total_cost_micro: number;
  created_at: Date;
}

/** How a booking ended: its final status, the reason it carries, the money, and the one moment it ended. */
export interface Settlement {
  status: EndedStatus;
  reason: string;
  charged: number;
  refund: number;
  endedAt: Date;
}

/**
 * Ends a booking for `cause` as of `at` (when it happened: the release, the job's end, the
 * moment the GPU went away) and settles it, `now` being when this is decided. Every way a
 * booking ends goes through here: the charge is always the total's share of the seconds
 * used (charged + refund = total exactly), and no booking ends before it was made.
 */
export function endBooking(booking: BookingFacts, cause: EndCause, at: Date, now: Date = at): Settlement {
  const total = booking.total_cost_micro;
  /** Charged for the started seconds it ran until `until` (nothing if it had not started). */
  const usedUntil = (until: Date) => settle(total, booking.duration_seconds, until < booking.start_time ? 0 : secondsUsed(booking.start_time, until));
  const result = (status: EndedStatus, reason: string, money: { charged: number; refund: number }, endedAt: Date): Settlement => ({
    status, reason, ...money, endedAt: endedAt < booking.created_at ? booking.created_at : endedAt,
  });
  switch (cause) {
    case 'released':
    case 'job_completed':
    case 'job_failed':
      return result('released', cause, usedUntil(at), at);
    case 'expired':
      return result('completed', 'expired', { charged: total, refund: 0 }, booking.end_time);
    case 'job_failed_miner':
      return result('cancelled', cause, { charged: 0, refund: total }, at);
    case 'gpu_offline':
    case 'unregistered': {
      // One that had not started by then ends when it would have started (or now, if sooner).
      const endedAt = at < booking.start_time ? new Date(Math.min(booking.start_time.getTime(), now.getTime())) : at;
      return result('cancelled', cause === 'gpu_offline' ? 'gpu_offline' : 'cancelled', usedUntil(at), endedAt);
    }
    case 'never_started':
      return result('cancelled', 'gpu_offline', { charged: 0, refund: total }, booking.start_time);
    default:
      return unreachable(cause);
  }
}

function unreachable(cause: never): never {
  throw new Error(`unknown end cause ${String(cause)}`);
}
