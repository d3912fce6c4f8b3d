import { type Gpu, GpuStatus, gpuStatusToJSON } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { enumName } from '../../lib/enumNames';
import { toUnits } from '../../lib/money';
import { int, named, num, numOrNull, object, ref, str, strings, strOrNull, timeOrNull } from './answers';

/** "available", "booked", "offline" (from the proto's names; a GPU of no known status shows offline). */
export const statusName = (status: GpuStatus): string =>
  (status > GpuStatus.GPU_STATUS_UNSPECIFIED ? enumName(gpuStatusToJSON, 'GPU_STATUS_', status) : 'offline');

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);
/** A telemetry value the miner did not report (NaN on the wire) is null. */
const reported = (value: number) => (Number.isNaN(value) ? null : value);

/** A GPU as the REST contract shows it: snake_case, money in AITBC, ISO-8601 UTC times. */
export function gpuJson(gpu: Gpu) {
  return {
    id: gpu.id,
    uuid: gpu.uuid || null,
    owner_id: gpu.ownerId,
    miner_id: gpu.minerId,
    model: gpu.model,
    model_key: gpu.modelKey,
    memory_gb: gpu.memoryGb,
    cuda_cores: gpu.cudaCores,
    compute_capability: gpu.computeCapability || null,
    cuda_version: gpu.cudaVersion || null,
    driver_version: gpu.driverVersion || null,
    region: gpu.region || null,
    price_per_hour: toUnits(gpu.pricePerHourMicro),
    description: gpu.description,
    capabilities: gpu.capabilities,
    status: statusName(gpu.status),
    last_heartbeat_at: iso(gpu.lastHeartbeatAt),
    booking_expires: iso(gpu.bookingExpires),
    total_bookings: gpu.totalBookings,
    average_rating: gpu.averageRating,
    total_reviews: gpu.totalReviews,
    created_at: iso(gpu.createdAt),
    updated_at: iso(gpu.updatedAt),
    // What its miner last reported with a heartbeat (null until it reports any).
    telemetry: gpu.telemetry ? {
      utilization: reported(gpu.telemetry.utilization), temperature_c: reported(gpu.telemetry.temperatureC),
      memory_used_gb: reported(gpu.telemetry.memoryUsedGb), power_w: reported(gpu.telemetry.powerW), reported_at: iso(gpu.telemetry.reportedAt),
    } : null,
  };
}

export const STATUS_BY_NAME: Record<string, GpuStatus> = {
  available: GpuStatus.GPU_STATUS_AVAILABLE,
  booked: GpuStatus.GPU_STATUS_BOOKED,
  offline: GpuStatus.GPU_STATUS_OFFLINE,
};

/** What a GPU looks like in every answer (and in lists). */
export const gpuSchema = named('Gpu', 'A GPU as listed: specs, owner and miner, price (AITBC per hour), status, rating, telemetry', object({
  id: str, uuid: strOrNull, owner_id: str, miner_id: str, model: str, model_key: str, memory_gb: int, cuda_cores: int,
  compute_capability: strOrNull, cuda_version: strOrNull, driver_version: strOrNull, region: strOrNull, price_per_hour: num,
  description: str, capabilities: strings, status: { type: 'string', enum: ['available', 'booked', 'offline'] },
  last_heartbeat_at: timeOrNull, booking_expires: timeOrNull, total_bookings: int, average_rating: num, total_reviews: int,
  created_at: timeOrNull, updated_at: timeOrNull,
  telemetry: { type: ['object', 'null'], additionalProperties: false, required: ['utilization', 'temperature_c', 'memory_used_gb', 'power_w', 'reported_at'],
    properties: { utilization: numOrNull, temperature_c: numOrNull, memory_used_gb: numOrNull, power_w: numOrNull, reported_at: timeOrNull } },
  // GPU details only: the current booking, for its client, the GPU's owner and admin.
  current_booking: ref('Booking'),
}, ['current_booking']), {
  id: 'gpu_8c1k2m3n4p5q6r7s8t9v', uuid: 'GPU-5c3a2f0e-h200-0001', owner_id: 'acme', miner_id: 'h200-host', model: 'NVIDIA H200', model_key: 'h200',
  memory_gb: 140, cuda_cores: 0, compute_capability: '9.0', cuda_version: '12.4', driver_version: '550.54.15', region: 'eu-west', price_per_hour: 3.2,
  description: '', capabilities: [], status: 'available', last_heartbeat_at: '2026-12-03T08:00:00.000Z', booking_expires: null, total_bookings: 3,
  average_rating: 4.5, total_reviews: 2, created_at: '2026-12-01T10:00:00.000Z', updated_at: '2026-12-03T07:00:00.000Z',
  telemetry: { utilization: 87, temperature_c: 61, memory_used_gb: 70, power_w: 412.5, reported_at: '2026-12-03T08:00:00.000Z' },
});
