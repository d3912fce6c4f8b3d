import type { Caller } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, notFound } from '../../../lib/errors';
import type { Outbox } from '../../../lib/events/outbox';
import { CreateBookingResponse, type Quote } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { type RegistryServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import type { AsyncClient } from '../../../lib/grpcClient';
import { isId, newId } from '../../../lib/ids';
import { modelKeyOf } from '../../../lib/modelCatalogue';
import { bookingMessage } from './bookingMessage';
import { totalCost } from './domain/billing';
import { type BookingPlan, type BookingRequest, planBooking } from './domain/bookingRequest';
import { mayActOn } from './domain/access';
import { gpuOffline, jobConflict, overlapConflict, tooExpensive } from './domain/conflict';
import { bookingCreated } from './events';
import { factsOf, type GpuSnapshotStore, isComplete, type KnownGpu } from './gpuSnapshotStore';
import { requireOfferHours } from './domain/bookingRequest';
import type { IdempotencyStore } from './idempotencyStore';
import type { LedgerPort } from './ledgerPort';
import type { PricingPort } from './pricing';
import { type BookingRow, type BookingStore, EXCLUSION_VIOLATION, isJobTaken } from './store';

export interface BookerDeps {
  db: Knex;
  store: BookingStore;
  gpus: GpuSnapshotStore;
  idempotency: IdempotencyStore;
  outbox: Outbox;
  /** Asked only for a GPU the snapshot does not know yet (registered a moment ago, or before the snapshot). */
  registry: AsyncClient<RegistryServiceClient>;
  pricing: PricingPort;
  ledger: LedgerPort;
  /** Reservations (bookings starting later) a client may hold at once: each blocks its window for others. */
  maxReservations: number;
  now?: () => Date;
}

/**
 * Makes bookings: the request rules (domain), idempotent replays, the GPU from the snapshot,
 * the quote, and one insert that the database refuses on overlap, on a second live booking
 * of one job, or when the GPU is no longer online.
 */
export function createBooker(deps: BookerDeps) {
  const { db, store, idempotency, outbox } = deps;
  const now = deps.now ?? (() => new Date());

  /** The GPU as the snapshot knows it; one the snapshot has not seen complete is asked of the registry once. */
  async function gpuOf(gpuId: string): Promise<KnownGpu> {
    if (!isId(gpuId, 'gpu')) throw notFound(`GPU ${gpuId}`);
    const known = await deps.gpus.get(db, gpuId);
    if (isComplete(known)) return known;
    const { gpu } = await deps.registry.getGpu({ caller: undefined, id: gpuId }, { deadlineMs: 1000 });
    await deps.gpus.put(db, factsOf(gpu!, gpu!.modelKey || modelKeyOf(gpu!.model)), now(), true);
    const filled = await deps.gpus.get(db, gpuId);
    if (!isComplete(filled)) throw notFound(`GPU ${gpuId}`);
    return filled;
  }

  async function book(caller: Caller, req: BookingRequest): Promise<CreateBookingResponse> {
    const plan = planBooking(req, now());
    const key = req.idempotencyKey;
    if (key && !req.dryRun) {
      const seen = await idempotency.find(db, caller.accountId, key);
      if (seen?.response) return replay(seen, plan.requestHash);
    }
    const gpu = await gpuOf(req.gpuId);
    if (!gpu.online || gpu.unregistered_at) throw gpu.unregistered_at ? notFound(`GPU ${gpu.gpu_id}`) : gpuOffline(gpu.gpu_id);
    requireOfferHours(plan.seconds, gpu);
    const quote = await quoteFor(gpu, plan);
    if (req.maxTotalCostMicro !== undefined && quote.totalCostMicro > req.maxTotalCostMicro) {
      throw tooExpensive(quote.totalCostMicro, req.maxTotalCostMicro, quoteDetails(quote));
    }
    // A window already taken is refused before any money moves: otherwise every refused
    // request would write a hold and its release into the client's ledger. The exclusion
    // constraint still decides the races this read cannot see.
    const taken = await store.overlaps(db, gpu.gpu_id, plan.start, plan.end);
    if (req.dryRun) {
      return { quote, wouldSucceed: !taken.length, reason: taken.length ? overlapConflict(gpu.gpu_id, taken, req.clientId).message : '', replayed: false };
    }
    if (taken.length) {
      // The window may be taken by this very request, sent again while the first was being
      // made: its answer committed with its booking, so it is seen now and replayed.
      const seen = key ? await idempotency.find(db, caller.accountId, key) : undefined;
      if (seen?.response) return replay(seen, plan.requestHash);
      throw overlapConflict(gpu.gpu_id, taken, req.clientId);
    }
    if (capsReservation(caller, plan, req.clientId)) await requireReservationRoom(db, req.clientId);
    const row = newRow(caller, req, plan, gpu, quote);
    const response: CreateBookingResponse = { booking: bookingMessage(row), quote, wouldSucceed: true, reason: '', replayed: false };
    // Paid first: the total is held, then the booking inserted before the hold's deadline;
    // a booking that is not made gives its hold back (and the accounts service gives back
    // any hold whose booking never appeared, if this process dies in between).
    const deadline = await deps.ledger.hold(row, caller.accountId === row.client_id);
    try {
      const answer = await insert(caller, row, plan, key, response, deadline);
      if (answer.replayed) await deps.ledger.giveBack(row.booking_id);
      return answer;
    } catch (err) {
      // Only a booking the database surely did not make gives its hold back at once: after a
      // lost connection the insert may have committed, and the accounts service's reconciler
      // (which asks whether the booking exists) decides.
      if (surelyNotMade(err)) await deps.ledger.giveBack(row.booking_id);
      if ((err as { code?: string }).code === EXCLUSION_VIOLATION) throw overlapConflict(gpu.gpu_id, await store.overlaps(db, gpu.gpu_id, plan.start, plan.end), req.clientId);
      if (isJobTaken(err)) {
        // Named only to those who may see it (a client's own booking is not a coordinator's business).
        const held = await store.activeForJob(db, req.clientId, plan.jobId);
        throw jobConflict(plan.jobId, held && mayActOn(held, caller) ? held.booking_id : undefined);
      }
      throw err;
    }
  }

  /** The hot path is one statement; a job's bookings take turns (an advisory lock), a keyed request records its answer. */
  async function insert(caller: Caller, row: BookingRow, plan: BookingPlan, key: string, response: CreateBookingResponse, deadline?: Date) {
    const event = bookingCreated(row);
    const refused = async () => (deadline && await store.passed(db, deadline)
      ? new DomainError('UNAVAILABLE', 'booking took longer than its payment hold allows; nothing was booked, retry')
      : gpuOffline(row.gpu_id));
    const capped = capsReservation(caller, plan, row.client_id);
    if (!key && !plan.jobId && !capped) {
      if (!(await store.insert(db, outbox, row, event, deadline))) throw await refused();
      return response;
    }
    return db.transaction(async (trx) => {
      // Racing inserts for one job would each wait on the other's constraint and deadlock.
      if (plan.jobId) await store.lockJob(trx, row.client_id, plan.jobId);
      // Counted again with the client's reservations locked: racing requests cannot pass the cap together.
      if (capped) {
        await store.lockReservations(trx, row.client_id);
        await requireReservationRoom(trx, row.client_id);
      }
      if (key && !(await idempotency.claim(trx, caller.accountId, key, plan.requestHash))) {
        // A concurrent request with this key committed first: answer as it did.
        return replay((await idempotency.find(trx, caller.accountId, key))!, plan.requestHash);
      }
      if (!(await store.insert(trx, outbox, row, event, deadline))) throw await refused();
      if (key) await idempotency.saveResponse(trx, caller.accountId, key, Buffer.from(CreateBookingResponse.encode(response).finish()));
      return response;
    });
  }

  /**
   * Reservations cost nothing until they start and can be released free before: without a
   * cap one client could hold every GPU's future for days (200 one-second reservations an
   * hour apart, all released at the last moment).
   */
  async function requireReservationRoom(conn: Knex, clientId: string): Promise<void> {
    const held = await store.reservationsOf(conn, clientId);
    if (held >= deps.maxReservations) {
      throw new DomainError('FAILED_PRECONDITION', `you hold ${held} reservations that have not started, the most a client may (MAX_RESERVATIONS_PER_CLIENT); release one, or book to start now`,
        'start_time', { reason: 'too_many_reservations' });
    }
  }

  async function quoteFor(gpu: KnownGpu, plan: BookingPlan): Promise<Quote> {
    const price = await deps.pricing.quote({ gpuId: gpu.gpu_id, model: gpu.model, listedPriceMicro: gpu.price_micro }, plan.seconds, plan.start);
    return {
      gpuId: gpu.gpu_id, durationSeconds: plan.seconds, startTime: plan.start, endTime: plan.end, pricePerHourMicro: price.pricePerHourMicro,
      totalCostMicro: totalCost(price.pricePerHourMicro, plan.seconds),
      pricing: { listedPriceMicro: price.listedPriceMicro, multiplier: price.multiplier, source: price.source },
    };
  }

  return { book, gpuOf };
}

export type Booker = ReturnType<typeof createBooker>;

function newRow(caller: Caller, req: BookingRequest, plan: BookingPlan, gpu: KnownGpu, quote: Quote): BookingRow {
  return {
    booking_id: newId('bkg'), order_id: newId('ord'), gpu_id: gpu.gpu_id, gpu_model: gpu.model, miner_id: gpu.miner_id,
    owner_id: gpu.owner_id, client_id: req.clientId, job_id: plan.jobId, status: 'active', start_time: plan.start, end_time: plan.end,
    duration_seconds: plan.seconds, price_per_hour_micro: quote.pricePerHourMicro, listed_price_micro: quote.pricing!.listedPriceMicro,
    multiplier: quote.pricing!.multiplier, price_source: quote.pricing!.source, total_cost_micro: quote.totalCostMicro,
    charged_micro: null, refund_micro: null, confirmed_at: null, ended_at: null, end_reason: null, created_at: new Date(),
    // Starting now: the snapshot just said the GPU is online. A reservation is checked when its window opens.
    window_checked: !plan.reservation, booked_by: caller.accountId,
  };
}

/**
 * Whether a failed insert surely made nothing: refused by our own checks (a DomainError), or
 * by the database before committing (integrity violations, a statement cancelled, a
 * deadlock or serialization failure: all roll the statement back).
 */
/**
 * Whether the reservation cap applies: to what clients reserve themselves; the agents'
 * bookings for them (bid fills starting a few seconds ahead, a coordinator's jobs) are theirs to pace.
 */
const capsReservation = (caller: Caller, plan: BookingPlan, clientId: string) => plan.reservation && caller.accountId === clientId;

function surelyNotMade(err: unknown): boolean {
  if (err instanceof DomainError) return true;
  const code = (err as { code?: string }).code ?? '';
  return /^23/.test(code) || code === '57014' || code === '40P01' || code === '40001';
}

/** The first answer to an Idempotency-Key, again; another request with the same key is refused. */
function replay(seen: { request_hash: string; response: Buffer | null }, requestHash: string): CreateBookingResponse {
  if (seen.request_hash !== requestHash) {
    throw new DomainError('INVALID_ARGUMENT', 'this Idempotency-Key was used with a different request; use a new key',
      'Idempotency-Key', { reason: 'idempotency_key_reused' });
  }
  if (!seen.response) throw new DomainError('ABORTED', 'a request with this Idempotency-Key is still in progress; retry shortly');
  return { ...CreateBookingResponse.decode(seen.response), replayed: true };
}

/** A quote in the details of a refused booking (micro-units; the gateway turns them into AITBC). */
function quoteDetails(quote: Quote): Record<string, unknown> {
  return {
    gpu_id: quote.gpuId, duration_seconds: quote.durationSeconds, price_per_hour_micro: quote.pricePerHourMicro,
    total_cost_micro: quote.totalCostMicro, pricing: quote.pricing,
  };
}

