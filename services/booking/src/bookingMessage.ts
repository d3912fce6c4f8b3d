import { type Booking, BookingStatus } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import type { BookingRow, BookingStatusName } from './store';

export const STATUS: Record<BookingStatusName, BookingStatus> = {
  active: BookingStatus.BOOKING_STATUS_ACTIVE,
  completed: BookingStatus.BOOKING_STATUS_COMPLETED,
  released: BookingStatus.BOOKING_STATUS_RELEASED,
  cancelled: BookingStatus.BOOKING_STATUS_CANCELLED,
};

export const STATUS_NAME = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k])) as Record<BookingStatus, BookingStatusName | undefined>;

/** A stored booking as the Booking message. */
export function bookingMessage(row: BookingRow): Booking {
  return {
    bookingId: row.booking_id,
    orderId: row.order_id,
    gpuId: row.gpu_id,
    clientId: row.client_id,
    jobId: row.job_id,
    status: STATUS[row.status],
    durationSeconds: row.duration_seconds,
    startTime: row.start_time,
    endTime: row.end_time,
    pricePerHourMicro: row.price_per_hour_micro,
    totalCostMicro: row.total_cost_micro,
    pricing: { listedPriceMicro: row.listed_price_micro, multiplier: row.multiplier, source: row.price_source },
    confirmedAt: row.confirmed_at ?? undefined,
    endedAt: row.ended_at ?? undefined,
    endReason: row.end_reason ?? '',
    chargedMicro: row.charged_micro ?? 0,
    refundMicro: row.refund_micro ?? 0,
    gpuModel: row.gpu_model,
    minerId: row.miner_id,
    ownerId: row.owner_id,
    createdAt: row.created_at,
  };
}
