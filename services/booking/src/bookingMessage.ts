import { type Booking, BookingStatus, bookingStatusFromJSON, bookingStatusToJSON } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { enumName, enumValue } from '../../../lib/enumNames';
import type { BookingStatusName } from './domain/lifecycle';
import type { BookingRow } from './store';

/** The stored status of a proto status (undefined for none or an unknown one). */
export function statusName(status: BookingStatus): BookingStatusName | undefined {
  const known = status > BookingStatus.BOOKING_STATUS_UNSPECIFIED && bookingStatusToJSON(status) !== 'UNRECOGNIZED';
  return known ? enumName(bookingStatusToJSON, 'BOOKING_STATUS_', status) as BookingStatusName : undefined;
}

/** A stored booking as the Booking message. */
export function bookingMessage(row: BookingRow): Booking {
  return {
    bookingId: row.booking_id,
    orderId: row.order_id,
    gpuId: row.gpu_id,
    clientId: row.client_id,
    jobId: row.job_id,
    status: enumValue(bookingStatusFromJSON, 'BOOKING_STATUS_', row.status, BookingStatus.BOOKING_STATUS_UNSPECIFIED),
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
