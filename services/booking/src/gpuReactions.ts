import type { Knex } from '../../../lib/db';
import { consume, type ConsumerDeps } from '../../../lib/events/consume';
import type { EventEnvelope } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import { type Gpu, GpuStatus } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { modelKeyOf } from '../../../lib/modelCatalogue';
import { type EndCause, endBooking } from './domain/lifecycle';
import { bookingEnded } from './events';
import { factsOf, type GpuSnapshotStore } from './gpuSnapshotStore';
import type { BookingRow, BookingStore } from './store';

/**
 * How long after the registry declared a GPU offline a booking may still have been made on
 * the snapshot's earlier word (the time events take to arrive, with room). A booking made
 * later than that was made after the GPU came back: a late offline event leaves it alone.
 */
const ARRIVAL_MS = 5000;

export interface GpuReactionDeps extends ConsumerDeps {
  store: BookingStore;
  gpus: GpuSnapshotStore;
  outbox: Outbox;
}

/**
 * The booking service's view of GPUs and its reactions to them, from gpu.* events applied
 * once each (inbox), as of the moment each event happened:
 * - the GPU snapshot (owner, model, listed price, liveness) that bookings are checked against;
 * - a GPU going offline cancels the bookings running on it since, refunding the unused time;
 * - an unregistered GPU cancels every live booking on it, reservations ahead in full.
 */
export function createGpuReactions(deps: GpuReactionDeps) {
  const { store, gpus } = deps;
  const snapshot = (trx: Knex, gpu: Gpu | undefined, envelope: EventEnvelope) =>
    gpu && gpus.put(trx, factsOf(gpu, gpu.modelKey || modelKeyOf(gpu.model)), happened(envelope));
  const cancel = async (trx: Knex, rows: BookingRow[], cause: EndCause, at: Date) => {
    const now = new Date();
    const ended = await store.end(trx, deps.outbox, rows.map((row) => ({ row, settlement: endBooking(row, cause, at, now) })), bookingEnded);
    if (ended.length) deps.logger.info({ count: ended.length, cause }, 'bookings cancelled');
  };
  return consume(deps, {
    durable: 'booking-gpu-reactions',
    on: {
      'gpu.registered': (trx, { gpu }, envelope) => snapshot(trx, gpu, envelope),
      'gpu.updated': (trx, { gpu }, envelope) => snapshot(trx, gpu, envelope),
      'gpu.status_changed': async (trx, change, envelope) => {
        const at = happened(envelope);
        if (change.status !== GpuStatus.GPU_STATUS_OFFLINE) return gpus.setOnline(trx, change.gpuId, true, at);
        // A GPU that fell silent is declared offline a TTL later; it stopped serving when it
        // was last heard from (the registry says when), and that is as far as its client pays.
        const lastSeen = change.lastHeartbeatAt;
        const gone = lastSeen && lastSeen < at ? lastSeen : at;
        // Ordered by when it was declared (the event's time), not by when it was last heard
        // from: a registration between the two must not make this change look older than it.
        await gpus.setOnline(trx, change.gpuId, false, at);
        // Running at some moment since it went. Reservations ahead are checked when their
        // window opens (the expiry sweeper), against the snapshot.
        const declaredBy = new Date(Math.min(Date.now(), at.getTime() + ARRIVAL_MS));
        await cancel(trx, await store.liveOnGpu(trx, change.gpuId, gone, declaredBy), 'gpu_offline', gone);
      },
      'gpu.unregistered': async (trx, { gpuId, forced }, envelope) => {
        const at = happened(envelope);
        await gpus.unregister(trx, gpuId, at);
        // Every live booking not over by then: the running one, and reservations ahead.
        const live = await store.liveOnGpu(trx, gpuId, at);
        if (forced) return cancel(trx, live, 'unregistered', at);
        // Not forced: the registry saw nothing booked, so whatever is here was booked while it
        // was being unregistered. Its client did not get the GPU: nothing is charged.
        for (const row of live) await cancel(trx, [row], 'unregistered', new Date(Math.min(row.start_time.getTime(), Date.now())));
      },
    },
  });
}

/**
 * When an event happened: its own time, never in the future. A client is charged until the
 * GPU went away, not until this service got to the event (it may have been down or behind).
 */
function happened(envelope: EventEnvelope): Date {
  const now = new Date();
  return envelope.occurredAt && envelope.occurredAt < now ? envelope.occurredAt : now;
}
