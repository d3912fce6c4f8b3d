import type { Knex } from '../../../lib/db';
import type { Delivery, EventBus } from '../../../lib/events/bus';
import { decodePayload } from '../../../lib/events/envelope';
import { createInboxConsumer } from '../../../lib/events/inboxConsumer';
import type { Outbox } from '../../../lib/events/outbox';
import type { GpuStatusChanged, GpuUnregistered } from '../../../lib/gen/aitbc/marketplace/v1/events';
import { GpuStatus } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import type { Logger } from '../../../lib/logger';
import { notBefore, secondsUsed, settle } from './domain/billing';
import { bookingEnded } from './events';
import type { BookingRow, BookingStore } from './store';

/**
 * How long after the registry declared a GPU offline a booking may still have been made on
 * a status read just before (the registry call's deadline plus the insert, with room).
 */
const STALE_STATUS_MS = 5000;

/**
 * The booking service's reactions to registry events, applied once each (inbox), as of the
 * moment the event happened:
 * - a GPU going offline cancels the booking running on it, refunding the unused time;
 * - an unregistered GPU (forced while booked) cancels every live booking on it, the running
 *   one refunded for its unused time, advance reservations in full.
 */
export function createGpuReactions(deps: { db: Knex; bus: EventBus; store: BookingStore; outbox: Outbox; logger: Logger }) {
  const cancel = async (trx: Knex, rows: BookingRow[], reason: string, at: Date, now: Date) => {
    const ended: BookingRow[] = [];
    for (const row of rows) {
      const used = at < row.start_time ? 0 : secondsUsed(row.start_time, at);
      // A booking that had not started by then ends when it started, or now if that is later;
      // never before it was made (a booking made on a stale status is refunded as of then).
      const endedAt = notBefore(at < row.start_time ? new Date(Math.min(row.start_time.getTime(), now.getTime())) : at, row.created_at);
      ended.push(await deps.store.end(trx, row.booking_id, {
        status: 'cancelled', reason, ...settle(row.total_cost_micro, row.duration_seconds, used), endedAt,
      }));
    }
    await deps.outbox.enqueue(trx, ended.map(bookingEnded));
    if (ended.length) deps.logger.info({ count: ended.length, reason }, 'bookings cancelled');
  };

  return createInboxConsumer({
    db: deps.db,
    bus: deps.bus,
    logger: deps.logger,
    durable: 'booking-gpu-reactions',
    types: ['gpu.status_changed', 'gpu.unregistered'],
    async apply(trx: Knex, delivery: Delivery) {
      // The client is charged until the GPU went away, not until this service got to the
      // event (it may have been down or behind): the event's own time, never in the future.
      const now = new Date();
      const occurred = delivery.envelope.occurredAt;
      const at = occurred && occurred < now ? occurred : now;
      if (delivery.envelope.type === 'gpu.status_changed') {
        const change = decodePayload(delivery.envelope) as GpuStatusChanged;
        // Reservations whose window opens later are checked against the GPU's liveness then
        // (the expiry sweeper): it is recorded for every change.
        if (change.status !== GpuStatus.GPU_STATUS_OFFLINE) {
          await deps.store.noteLiveness(trx, change.gpuId, true, at);
          return;
        }
        // A GPU that fell silent is declared offline a TTL later; it stopped serving when it
        // was last heard from (the registry says when), and that is as far as its client pays.
        const lastSeen = change.lastHeartbeatAt;
        const gone = lastSeen && lastSeen < at ? lastSeen : at;
        await deps.store.noteLiveness(trx, change.gpuId, false, gone);
        // Running at some moment since it went: one that started later is refunded in full.
        // Bookings started after the registry said so could only have read its status just
        // before (within STALE_STATUS_MS); later ones were made after the GPU came back.
        const declaredBy = new Date(Math.min(now.getTime(), at.getTime() + STALE_STATUS_MS));
        await cancel(trx, await deps.store.liveOnGpu(trx, change.gpuId, gone, declaredBy), 'gpu_offline', gone, now);
      } else {
        // Every live booking not over by then: the running one, and reservations ahead.
        const unregistered = decodePayload(delivery.envelope) as GpuUnregistered;
        await deps.store.noteLiveness(trx, unregistered.gpuId, false, at);
        await cancel(trx, await deps.store.liveOnGpu(trx, unregistered.gpuId, at), 'cancelled', at, now);
      }
    },
  });
}
