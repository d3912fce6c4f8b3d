import {
  type Booking, BookingStatus, bookingStatusFromJSON, bookingStatusToJSON, type Pricing, type Quote,
} from '../../lib/gen/aitbc/marketplace/v1/booking';
import { enumName, enumValue } from '../../lib/enumNames';
import { toUnits } from '../../lib/money';
import { bool, named, num, numOrNull, object, str, strOrNull, timeOrNull } from './answers';

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
  // The fields it shares with the booking are converted there, once; the list's own order is kept.
  const { order_id, booking_id, gpu_id, client_id, job_id, status, duration_hours, price_per_hour, total_cost, charged, refund } = bookingJson(b);
  return {
    order_id, booking_id, gpu_id, gpu_model: b.gpuModel, miner_id: b.minerId, client_id, job_id, status, duration_hours,
    price_per_hour, total_cost, charged, refund, created_at: iso(b.createdAt), completed_at: iso(b.endedAt),
  };
}

/** A booking as a miner's job (`miner jobs`): the coordinator's job id, else the booking's. */
export function jobJson(b: Booking) {
  const { booking_id, gpu_id, client_id, status, start_time, end_time, ended_at, total_cost, charged, refund } = bookingJson(b);
  return {
    job_id: b.jobId || b.bookingId, booking_id, gpu_id, gpu_model: b.gpuModel, client_id,
    status, start_time, end_time, ended_at, total_cost, charged, refund, created_at: iso(b.createdAt),
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

const status = { type: 'string', enum: ['active', 'completed', 'released', 'cancelled'] } as const;
const pricing = object({ listed_price: num, multiplier: num, source: str }, [], { description: 'how the price was made: the listed price times the demand multiplier' });
const BOOKING_EXAMPLE = {
  booking_id: 'bkg_2h4j6k8m0n2p4q6r8s0t', order_id: 'ord_2h4j6k8m0n2p4q6r8s0t', gpu_id: 'gpu_8c1k2m3n4p5q6r7s8t9v', client_id: 'alice', job_id: null,
  status: 'active', duration_hours: 2, start_time: '2026-12-03T08:00:00.000Z', end_time: '2026-12-03T10:00:00.000Z', price_per_hour: 3.2,
  total_cost: 6.4, pricing: { listed_price: 3.2, multiplier: 1, source: 'pricing' }, confirmed_at: null, ended_at: null, end_reason: null, charged: null, refund: null,
};

export const bookingSchema = named('Booking', 'A booking: its window, price and total; charged and refund once it ended', object({
  booking_id: str, order_id: str, gpu_id: str, client_id: str, job_id: strOrNull, status, duration_hours: num, start_time: timeOrNull, end_time: timeOrNull,
  price_per_hour: num, total_cost: num, pricing, confirmed_at: timeOrNull, ended_at: timeOrNull, end_reason: strOrNull, charged: numOrNull, refund: numOrNull,
}), BOOKING_EXAMPLE);

export const orderSchema = named('Order', "A booking's billing record", object({
  order_id: str, booking_id: str, gpu_id: str, gpu_model: str, miner_id: str, client_id: str, job_id: strOrNull, status, duration_hours: num,
  price_per_hour: num, total_cost: num, charged: numOrNull, refund: numOrNull, created_at: timeOrNull, completed_at: timeOrNull,
}));

const quoteProperties = { gpu_id: str, duration_hours: num, start_time: timeOrNull, end_time: timeOrNull, price_per_hour: num, total_cost: num, pricing };
export const dryRunSchema = named('DryRun', 'What a booking would cost, and whether it would be made now', object({
  dry_run: { type: 'boolean', const: true }, would_succeed: bool, reason: strOrNull, ...quoteProperties,
}), { dry_run: true, would_succeed: true, reason: null, gpu_id: 'gpu_8c1k2m3n4p5q6r7s8t9v', duration_hours: 2, start_time: '2026-12-03T08:00:00.000Z',
  end_time: '2026-12-03T10:00:00.000Z', price_per_hour: 3.2, total_cost: 6.4, pricing: { listed_price: 3.2, multiplier: 1, source: 'pricing' } });

export const releaseSchema = named('Release', 'A released booking: charged for the seconds used, the rest refunded', object({
  status: { type: 'string', const: 'released' }, gpu_id: str, booking_id: str, charged: num, refund: num,
}), { status: 'released', gpu_id: 'gpu_8c1k2m3n4p5q6r7s8t9v', booking_id: 'bkg_2h4j6k8m0n2p4q6r8s0t', charged: 0.533333, refund: 5.866667 });

export const jobSchema = named('Job', "A booking on one of a provider's GPUs, as a miner's job", object({
  job_id: str, booking_id: str, gpu_id: str, gpu_model: str, client_id: str, status, start_time: timeOrNull, end_time: timeOrNull, ended_at: timeOrNull,
  total_cost: num, charged: numOrNull, refund: numOrNull, created_at: timeOrNull,
}));
