import type { Earnings, MinerEarningsResponse } from '../../../../lib/gen/aitbc/marketplace/v1/accounts';

/** One booking's earnings entries on one UTC day, as the ledger holds them. */
export interface EarningsLine {
  booking_id: string;
  gpu_id: string;
  /** YYYY-MM-DD, UTC. */
  day: string;
  /** The owner's entries (charge, payment). */
  net_micro: number;
  /** The platform's fee entries. */
  fee_micro: number;
  earned_at: Date;
}

/** Bookings listed in an answer at most (the totals count all). */
export const BOOKINGS_SHOWN = 1000;

const zero = (): Earnings => ({ grossMicro: 0, feeMicro: 0, netMicro: 0, bookings: 0 });

/**
 * Totals, per GPU, per day and per booking from the ledger's lines: gross = net + fee, each
 * booking counted once wherever it appears (a booking paid on two days counts on both days,
 * once in the total). Days and GPUs in order; bookings newest first.
 */
export function summarizeEarnings(lines: EarningsLine[]): MinerEarningsResponse {
  const total = zero();
  const gpus = new Map<string, Earnings>();
  const days = new Map<string, Earnings>();
  const bookings = new Map<string, { gpuId: string; earnings: Earnings; earnedAt: Date }>();
  const seen = new Map<Earnings, Set<string>>();
  const add = (into: Earnings, line: EarningsLine) => {
    into.netMicro += line.net_micro;
    into.feeMicro += line.fee_micro;
    into.grossMicro += line.net_micro + line.fee_micro;
    const ids = seen.get(into) ?? new Set<string>();
    seen.set(into, ids);
    if (!ids.has(line.booking_id)) {
      ids.add(line.booking_id);
      into.bookings += 1;
    }
  };
  for (const line of lines) {
    add(total, line);
    const gpu = gpus.get(line.gpu_id) ?? zero();
    gpus.set(line.gpu_id, gpu);
    add(gpu, line);
    const day = days.get(line.day) ?? zero();
    days.set(line.day, day);
    add(day, line);
    const booking = bookings.get(line.booking_id) ?? { gpuId: line.gpu_id, earnings: zero(), earnedAt: line.earned_at };
    bookings.set(line.booking_id, booking);
    add(booking.earnings, line);
    if (line.earned_at > booking.earnedAt) booking.earnedAt = line.earned_at;
  }
  const byBooking = [...bookings.entries()].sort((a, b) => b[1].earnedAt.getTime() - a[1].earnedAt.getTime() || a[0].localeCompare(b[0]));
  return {
    total,
    gpus: [...gpus.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([gpuId, earnings]) => ({ gpuId, earnings })),
    days: [...days.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, earnings]) => ({ day, earnings })),
    bookings: byBooking.slice(0, BOOKINGS_SHOWN).map(([bookingId, b]) => ({ bookingId, gpuId: b.gpuId, earnings: b.earnings, earnedAt: b.earnedAt })),
    bookingsTruncated: byBooking.length > BOOKINGS_SHOWN,
  };
}
