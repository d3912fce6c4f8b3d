import { type Gpu, GpuStatus, gpuStatusToJSON } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { enumName } from '../../lib/enumNames';
import { toUnits } from '../../lib/money';

/** "available", "booked", "offline" (from the proto's names; a GPU of no known status shows offline). */
const statusName = (status: GpuStatus): string =>
  (status > GpuStatus.GPU_STATUS_UNSPECIFIED ? enumName(gpuStatusToJSON, 'GPU_STATUS_', status) : 'offline');

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

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
      utilization: gpu.telemetry.utilization, temperature_c: gpu.telemetry.temperatureC,
      memory_used_gb: gpu.telemetry.memoryUsedGb, power_w: gpu.telemetry.powerW, reported_at: iso(gpu.telemetry.reportedAt),
    } : null,
  };
}

export const STATUS_BY_NAME: Record<string, GpuStatus> = {
  available: GpuStatus.GPU_STATUS_AVAILABLE,
  booked: GpuStatus.GPU_STATUS_BOOKED,
  offline: GpuStatus.GPU_STATUS_OFFLINE,
};
