import {
  type Booking, BookingStatus, bookingStatusFromJSON, bookingStatusToJSON, type Pricing, type Quote,
} from '../../lib/gen/aitbc/marketplace/v1/booking';
import { enumName, enumValue } from '../../lib/enumNames';
import { toUnits } from '../../lib/money';

/** "active", "completed", "released", "cancelled" (from the proto's names). */
export const bookingStatusName = (status: BookingStatus): string => enumName(bookingStatusToJSON, 'BOOKING_STATUS_', status);
export const bookingStatusOf = (name: string): BookingStatus =>
  enumValue(bookingStatusFromJSON, 'BOOKING_STATUS_', name, BookingStatus.BOOKING_STATUS_UNSPECIFIED);

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);
/** Seconds → hours, as the client asked for them (1800 s → 0.5). */
const hours = (seconds: number) => Math.round((seconds / 3600) * 1e6) / 1e6;
const pricingJson = (p: Pricing | undefined) => ({
  listed_price: toUnits(p?.listedPriceMicro ?? 0), multiplier: p?.multiplier ?? 1, source: p?.source ?? 'listed_price',
});

/** A booking as the REST contract shows it (the book answer, booking details). */
export function bookingJson(b: Booking) {
  const ended = b.status !== BookingStatus.BOOKING_STATUS_ACTIVE;
  return {
    booking_id: b.bookingId,
    order_id: b.orderId,
    gpu_id: b.gpuId,
    client_id: b.clientId,
    job_id: b.jobId || null,
    status: bookingStatusName(b.status),
    duration_hours: hours(b.durationSeconds),
    start_time: iso(b.startTime),
    end_time: iso(b.endTime),
    price_per_hour: toUnits(b.pricePerHourMicro),
    total_cost: toUnits(b.totalCostMicro),
    pricing: pricingJson(b.pricing),
    confirmed_at: iso(b.confirmedAt),
    ended_at: iso(b.endedAt),
    end_reason: b.endReason || null,
    charged: ended ? toUnits(b.chargedMicro) : null,
    refund: ended ? toUnits(b.refundMicro) : null,
  };
}

/** An order (the booking's billing record) as the orders list shows it. */
export function orderJson(b: Booking) {
  const ended = b.status !== BookingStatus.BOOKING_STATUS_ACTIVE;
  return {
    order_id: b.orderId,
    booking_id: b.bookingId,
    gpu_id: b.gpuId,
    gpu_model: b.gpuModel,
    miner_id: b.minerId,
    client_id: b.clientId,
    job_id: b.jobId || null,
    status: bookingStatusName(b.status),
    duration_hours: hours(b.durationSeconds),
    price_per_hour: toUnits(b.pricePerHourMicro),
    total_cost: toUnits(b.totalCostMicro),
    charged: ended ? toUnits(b.chargedMicro) : null,
    refund: ended ? toUnits(b.refundMicro) : null,
    created_at: iso(b.createdAt),
    completed_at: iso(b.endedAt),
  };
}

/** A price quote (dry runs, and the conflict when the client's total_cost is too low). */
export function quoteJson(q: Quote) {
  return {
    gpu_id: q.gpuId,
    duration_hours: hours(q.durationSeconds),
    start_time: iso(q.startTime),
    end_time: iso(q.endTime),
    price_per_hour: toUnits(q.pricePerHourMicro),
    total_cost: toUnits(q.totalCostMicro),
    pricing: pricingJson(q.pricing),
  };
}

/** The quote a booking service error carries in its details (micro-units) → AITBC. */
export function quoteDetailsJson(details: Record<string, unknown>) {
  const pricing = (details.pricing ?? {}) as { listedPriceMicro?: number; multiplier?: number; source?: string };
  return {
    gpu_id: details.gpu_id,
    duration_hours: hours(Number(details.duration_seconds)),
    price_per_hour: toUnits(Number(details.price_per_hour_micro)),
    total_cost: toUnits(Number(details.total_cost_micro)),
    pricing: { listed_price: toUnits(pricing.listedPriceMicro ?? 0), multiplier: pricing.multiplier ?? 1, source: pricing.source ?? 'listed_price' },
  };
}
