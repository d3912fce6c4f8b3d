import { GpuStatus } from '../../../../lib/gen/aitbc/marketplace/v1/registry';

export interface LivenessFacts {
  online: boolean;
  booking_expires: Date | null;
}

/**
 * A GPU's status at `now`: offline wins (nobody can use it), then booked while a live
 * booking covers now, else available. Liveness itself (`online`) is kept by heartbeats and
 * the offline sweeper; the booking part is a projection of booking events.
 */
export function gpuStatus(facts: LivenessFacts, now: Date): GpuStatus {
  if (!facts.online) return GpuStatus.GPU_STATUS_OFFLINE;
  if (facts.booking_expires && facts.booking_expires > now) return GpuStatus.GPU_STATUS_BOOKED;
  return GpuStatus.GPU_STATUS_AVAILABLE;
}
