import { type EventEnvelope, newEvent } from '../../../lib/events/envelope';
import { GpuStatus } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { gpuMessage } from './gpuMessage';
import type { GpuRow } from './store';

const SOURCE = 'registry';

/** gpu.registered or gpu.updated for a row just written. */
export function registrationEvent(row: GpuRow, created: boolean, now: Date): EventEnvelope {
  const gpu = gpuMessage(row, now);
  return created ? newEvent('gpu.registered', SOURCE, row.id, { gpu }) : newEvent('gpu.updated', SOURCE, row.id, { gpu });
}

/** gpu.status_changed for a liveness transition of a row (already written). */
export function statusChangedEvent(row: GpuRow, wasOnline: boolean, reason: string, now: Date): EventEnvelope {
  const status = gpuMessage(row, now).status;
  const previous = wasOnline
    ? (status === GpuStatus.GPU_STATUS_OFFLINE ? GpuStatus.GPU_STATUS_AVAILABLE : status)
    : GpuStatus.GPU_STATUS_OFFLINE;
  return newEvent('gpu.status_changed', SOURCE, row.id, {
    gpuId: row.id, ownerId: row.owner_id, minerId: row.miner_id, model: row.model, previousStatus: previous, status, reason,
    // Silence is noticed a TTL late; a miner saying it goes offline is heard at once.
    lastHeartbeatAt: reason === 'heartbeat_timeout' ? row.last_heartbeat_at : undefined,
  });
}

/** gpu.unregistered; `forced` when a live booking was overridden (booking cancels it). */
export function unregisteredEvent(row: GpuRow, forced: boolean): EventEnvelope {
  return newEvent('gpu.unregistered', SOURCE, row.id, {
    gpuId: row.id, ownerId: row.owner_id, model: row.model, forced, currentBookingId: forced ? (row.current_booking_id ?? '') : '',
  });
}

/**
 * The events of an upsert: the registration itself, plus a status change when a known GPU
 * that was offline comes back by being registered again.
 */
export function upsertEvents(result: { row: GpuRow; created: boolean; wasOnline?: boolean }, now: Date): EventEnvelope[] {
  const events = [registrationEvent(result.row, result.created, now)];
  if (!result.created && result.wasOnline === false) events.push(statusChangedEvent(result.row, false, 'registered', now));
  return events;
}
