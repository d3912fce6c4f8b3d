import { GpuStatus } from './gen/aitbc/marketplace/v1/registry';

export interface LivenessFacts {
  online: boolean;
  booking_starts: Date | null;
  booking_expires: Date | null;
}

/** Whether the GPU's earliest live booking covers `now` (an advance reservation does not, yet). */
export function bookedAt(facts: Pick<LivenessFacts, 'booking_starts' | 'booking_expires'>, now: Date): boolean {
  return facts.booking_expires !== null && facts.booking_expires > now && (facts.booking_starts === null || facts.booking_starts <= now);
}

/**
 * A GPU's status at `now`: offline wins (nobody can use it), then booked while a live
 * booking covers now, else available. Liveness itself (`online`) is kept by heartbeats and
 * the offline sweeper; the booking part is a projection of booking events.
 */
export function gpuStatus(facts: LivenessFacts, now: Date): GpuStatus {
  if (!facts.online) return GpuStatus.GPU_STATUS_OFFLINE;
  if (bookedAt(facts, now)) return GpuStatus.GPU_STATUS_BOOKED;
  return GpuStatus.GPU_STATUS_AVAILABLE;
}
