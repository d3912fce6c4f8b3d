import type { Gpu } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { bookedAt, gpuStatus } from '../../../lib/gpuStatus';
import type { GpuRow } from './store';

/** A stored GPU as the Gpu message every caller sees. */
export function gpuMessage(row: GpuRow, now: Date): Gpu {
  const booked = bookedAt(row, now);
  return {
    id: row.id,
    uuid: row.uuid ?? '',
    ownerId: row.owner_id,
    minerId: row.miner_id,
    model: row.model,
    modelKey: row.catalog_key,
    memoryGb: row.memory_gb,
    cudaCores: row.cuda_cores,
    computeCapability: row.compute_capability,
    cudaVersion: row.cuda_version,
    driverVersion: row.driver_version,
    region: row.region,
    pricePerHourMicro: row.price_micro,
    description: row.description,
    capabilities: row.capabilities,
    status: gpuStatus(row, now),
    lastHeartbeatAt: row.last_heartbeat_at,
    bookingExpires: booked ? (row.booking_expires ?? undefined) : undefined,
    currentBookingId: booked ? (row.current_booking_id ?? '') : '',
    totalBookings: row.total_bookings,
    averageRating: Number(row.average_rating),
    totalReviews: row.total_reviews,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    offer: row.offer_id ? {
      offerId: row.offer_id, pricePerHourMicro: row.offer_price_micro ?? 0, minHours: row.offer_min_hours ?? 0, maxHours: row.offer_max_hours ?? 0,
      supportedModels: row.offer_models, status: row.offer_status === 'open' && booked ? 'reserved' : row.offer_status ?? 'closed',
      createdAt: row.offer_created_at ?? undefined,
    } : undefined,
    telemetry: row.telemetry_at ? {
      utilization: round1(row.utilization), temperatureC: round1(row.temperature_c), memoryUsedGb: round1(row.memory_used_gb),
      powerW: round1(row.power_w), reportedAt: row.telemetry_at,
    } : undefined,
  };
}

/** Telemetry is stored as real (float4), to one decimal; a value not reported travels as NaN. */
const round1 = (value: number | null) => (value === null ? Number.NaN : Math.round(value * 10) / 10);
