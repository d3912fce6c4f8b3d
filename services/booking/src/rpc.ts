import { createHash } from 'node:crypto';
import { type Caller, isAccountId, requireCaller, Role } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid, notFound } from '../../../lib/errors';
import type { Outbox } from '../../../lib/events/outbox';
import {
  type BookForJobRequest, type BookForJobResponse, BookingServiceService, type BookingServiceServer, CreateBookingResponse, JobOutcome, type Quote,
} from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { type Gpu, GpuSort, GpuStatus, type RegistryServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import type { AsyncClient } from '../../../lib/grpcClient';
import type { ServiceBinding } from '../../../lib/grpcServer';
import { isId, newId } from '../../../lib/ids';
import { textProblem } from '../../../lib/text';
import { decodeTimeCursor, encodeTimeCursor, requestTime } from '../../../lib/timeCursor';
import { formatMoney } from '../../../lib/money';
import { bookingMessage, STATUS_NAME } from './bookingMessage';
import { durationSeconds, notBefore, secondsUsed, settle, totalCost } from './domain/billing';
import { bookingConfirmed, bookingCreated, bookingEnded } from './events';
import type { PricingPort } from './pricing';
import { type BookingRow, type BookingStore, DEADLOCK, EXCLUSION_VIOLATION, type Ending, isJobTaken, type Overlap } from './store';

export interface BookingDeps {
  db: Knex;
  store: BookingStore;
  outbox: Outbox;
  registry: AsyncClient<RegistryServiceClient>;
  pricing: PricingPort;
  now?: () => Date;
}

const RENTERS = [Role.ROLE_CLIENT, Role.ROLE_SERVICE];
const ANYONE = [Role.ROLE_CLIENT, Role.ROLE_PROVIDER, Role.ROLE_ADMIN, Role.ROLE_SERVICE];
/** Advance reservations may start at most this far ahead. */
const MAX_ADVANCE_MS = 90 * 24 * 3600 * 1000;
/** A start this little in the past (clock skew, slow networks) is taken as now. */
const START_SKEW_MS = 60_000;
const TEXT_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;

/**
 * Who may act on a booking: its client, admins, and the service that made it (a coordinator
 * acts on its own jobs' bookings, not on every client's). Bookings made before services were
 * recorded (booked_by null) are any service's.
 */
function mayActOn(row: BookingRow, caller: Caller): boolean {
  if (caller.role === Role.ROLE_ADMIN) return true;
  if (caller.role === Role.ROLE_SERVICE) return row.booked_by === null || row.booked_by === caller.accountId;
  return row.client_id === caller.accountId;
}

/** Who may see a booking: those who may act on it, and the GPU's owner. */
function visibleTo(row: BookingRow, caller: Caller): boolean {
  return mayActOn(row, caller) || row.owner_id === caller.accountId;
}

/** gRPC handlers of aitbc.marketplace.v1.BookingService. */
export function createBookingHandlers(deps: BookingDeps): ServiceBinding<BookingServiceServer> {
  const { db, store, outbox, registry, pricing } = deps;
  const now = deps.now ?? (() => new Date());

  async function fetchGpu(gpuId: string): Promise<Gpu> {
    if (!isId(gpuId, 'gpu')) throw notFound(`GPU ${gpuId}`);
    const { gpu } = await registry.getGpu({ caller: undefined, id: gpuId }, { deadlineMs: 1000 });
    return gpu!;
  }

  /** The booking a call acts on: by id (its client's, or any for admin and services), or the caller's live booking on a GPU. */
  async function findBooking(trx: Knex, caller: Caller, bookingId: string, gpuId: string, lock: boolean): Promise<BookingRow> {
    if (bookingId) {
      const row = isId(bookingId, 'bkg') ? await store.get(trx, bookingId, lock) : undefined;
      if (!row || !mayActOn(row, caller)) throw notFound(`booking ${bookingId}`);
      return row;
    }
    if (!gpuId) throw invalid('booking_id', 'name the booking or the GPU');
    const row = await store.liveForClient(trx, gpuId, caller.accountId, lock);
    if (!row) throw new DomainError('FAILED_PRECONDITION', `you hold no active booking on GPU ${gpuId}`);
    return row;
  }

  /**
   * Ends a live booking with its booking.ended event in one conditional statement (status
   * must still be active), so two concurrent ends cannot both succeed.
   */
  async function endNow(row: BookingRow, ending: (row: BookingRow) => Ending): Promise<BookingRow> {
    if (row.status !== 'active') throw new DomainError('FAILED_PRECONDITION', `booking ${row.booking_id} has already ended (${row.status})`);
    const end = ending(row);
    end.endedAt = notBefore(end.endedAt, row.created_at);
    const ended: BookingRow = {
      ...row, status: end.status, end_reason: end.reason, charged_micro: end.charged, refund_micro: end.refund,
      ended_at: end.endedAt, completed_at: end.endedAt,
    };
    if (!(await store.endWithEvent(db, row.booking_id, end, end.endedAt, outbox.row(bookingEnded(ended))))) {
      throw new DomainError('FAILED_PRECONDITION', `booking ${row.booking_id} has already ended`);
    }
    outbox.written(db);
    return ended;
  }

  /** Charged for the seconds used so far, the rest refunded. */
  const usedSoFar = (status: Ending['status'], reason: string) => (row: BookingRow): Ending => {
    const at = now();
    const used = at < row.start_time ? 0 : secondsUsed(row.start_time, at);
    return { status, reason, ...settle(row.total_cost_micro, row.duration_seconds, used), endedAt: at };
  };

  async function create(req: {
    caller: Caller; clientId: string; gpuId: string; durationHours: number; startTime?: Date; jobId: string;
    maxTotalCostMicro?: number; dryRun: boolean; idempotencyKey: string;
  }): Promise<CreateBookingResponse> {
    const seconds = durationSeconds(req.durationHours);
    const at = now();
    let start = requestTime('start_time', req.startTime) ?? at;
    if (start.getTime() < at.getTime() - START_SKEW_MS) throw invalid('start_time', 'must not be in the past');
    if (start < at) start = at;
    if (start.getTime() > at.getTime() + MAX_ADVANCE_MS) throw invalid('start_time', 'must be within 90 days');
    if (req.jobId && !TEXT_ID.test(req.jobId)) throw invalid('job_id', 'must be 1-128 letters, digits or ._:/-');
    if (req.maxTotalCostMicro !== undefined && req.maxTotalCostMicro < 0) throw invalid('total_cost', 'must not be negative');
    const key = req.idempotencyKey;
    if (key && (key.length > 200 || textProblem(key))) throw invalid('Idempotency-Key', 'must be at most 200 printable characters');
    // What "the same request" means for a replay: every input that shapes the booking.
    const requestHash = createHash('sha256').update(JSON.stringify([
      req.clientId, req.gpuId, seconds, req.startTime?.toISOString() ?? null, req.jobId, req.maxTotalCostMicro ?? null, req.dryRun,
    ])).digest('hex');
    if (key && !req.dryRun) {
      const seen = await store.idempotency.find(db, req.caller.accountId, key);
      if (seen?.response) return replay(seen, requestHash);
    }

    const gpu = await fetchGpu(req.gpuId);
    if (gpu.status === GpuStatus.GPU_STATUS_OFFLINE) {
      throw new DomainError('FAILED_PRECONDITION', `GPU ${gpu.id} is offline; pick an available one`);
    }
    const price = await pricing.quote(gpu, seconds, start);
    const end = new Date(start.getTime() + seconds * 1000);
    const quote: Quote = {
      gpuId: gpu.id, durationSeconds: seconds, startTime: start, endTime: end, pricePerHourMicro: price.pricePerHourMicro,
      totalCostMicro: totalCost(price.pricePerHourMicro, seconds),
      pricing: { listedPriceMicro: price.listedPriceMicro, multiplier: price.multiplier, source: price.source },
    };
    if (req.maxTotalCostMicro !== undefined && quote.totalCostMicro > req.maxTotalCostMicro) {
      throw new DomainError('FAILED_PRECONDITION',
        `the current cost is ${formatMoney(quote.totalCostMicro)} AITBC, more than total_cost ${formatMoney(req.maxTotalCostMicro)}; ` +
        'book again with a total_cost of at least the current cost', 'total_cost', { quote: quoteDetails(quote) });
    }
    if (req.dryRun) {
      const taken = await store.overlaps(db, gpu.id, start, end);
      return { quote, wouldSucceed: !taken.length, reason: taken.length ? overlapConflict(gpu.id, taken, req.clientId).message : '', replayed: false };
    }

    const row: BookingRow = {
      booking_id: newId('bkg'), order_id: newId('ord'), gpu_id: gpu.id, gpu_model: gpu.model, miner_id: gpu.minerId,
      owner_id: gpu.ownerId, client_id: req.clientId, job_id: req.jobId, status: 'active', start_time: start, end_time: end,
      duration_seconds: seconds, price_per_hour_micro: quote.pricePerHourMicro, listed_price_micro: price.listedPriceMicro,
      multiplier: price.multiplier, price_source: price.source, total_cost_micro: quote.totalCostMicro,
      charged_micro: null, refund_micro: null, confirmed_at: null, ended_at: null, end_reason: null,
      created_at: new Date(), completed_at: null, booked_by: req.caller.accountId,
      // Starting now: the registry just said the GPU is online. A reservation is checked when its window opens.
      window_checked: start <= at,
    };
    const response: CreateBookingResponse = { booking: bookingMessage(row), quote, wouldSucceed: true, reason: '', replayed: false };
    try {
      if (!key && !req.jobId) {
        // The hot path: booking, order and event in one statement.
        await store.insertWithEvent(db, row, outbox.row(bookingCreated(row)));
        outbox.written(db);
        return response;
      }
      return await db.transaction(async (trx) => {
        // Bookings for one job take turns: racing inserts would otherwise each wait on the
        // other's constraint (the GPU's time, the job's one booking) and deadlock.
        if (req.jobId) await store.lockJob(trx, req.clientId, req.jobId);
        if (!key) {
          await store.insertWithEvent(trx, row, outbox.row(bookingCreated(row)));
          outbox.written(trx);
          return response;
        }
        if (!(await store.idempotency.claim(trx, req.caller.accountId, key, requestHash))) {
          // A concurrent request with this key committed first: answer as it did.
          const seen = await store.idempotency.find(trx, req.caller.accountId, key);
          return replay(seen!, requestHash);
        }
        await store.insertWithEvent(trx, row, outbox.row(bookingCreated(row)));
        await store.idempotency.saveResponse(trx, req.caller.accountId, key, Buffer.from(CreateBookingResponse.encode(response).finish()));
        outbox.written(trx);
        return response;
      });
    } catch (err) {
      if ((err as { code?: string }).code === EXCLUSION_VIOLATION) {
        throw overlapConflict(gpu.id, await store.overlaps(db, gpu.id, start, end), req.clientId);
      }
      if (isJobTaken(err)) {
        const held = await store.activeForJob(db, req.clientId, req.jobId);
        throw new DomainError('ALREADY_EXISTS',
          `job ${req.jobId} already holds live booking ${held?.booking_id ?? '(ended meanwhile: retry)'}; a job holds one live booking at a time`,
          'job_id', { booking_id: held?.booking_id, reason: 'job_has_booking' });
      }
      throw err;
    }
  }

  function replay(seen: { request_hash: string; response: Buffer | null }, requestHash: string): CreateBookingResponse {
    if (seen.request_hash !== requestHash) {
      throw new DomainError('INVALID_ARGUMENT', 'this Idempotency-Key was used with a different request; use a new key',
        'Idempotency-Key', { reason: 'idempotency_key_reused' });
    }
    if (!seen.response) throw new DomainError('ABORTED', 'a request with this Idempotency-Key is still in progress; retry shortly');
    return { ...CreateBookingResponse.decode(seen.response), replayed: true };
  }

  return {
    definition: BookingServiceService,
    implementation: {
      async createBooking(req) {
        const caller = requireCaller(req.caller, RENTERS);
        const clientId = caller.role === Role.ROLE_SERVICE ? req.clientId : caller.accountId;
        if (!clientId) throw invalid('client_id', 'is required for bookings made by a service');
        if (!isAccountId(clientId)) throw invalid('client_id', 'must be an account id: 1-64 letters, digits, ".", "_" or "-"');
        return create({
          caller, clientId, gpuId: req.gpuId, durationHours: req.durationHours, startTime: req.startTime, jobId: req.jobId.trim(),
          maxTotalCostMicro: req.maxTotalCostMicro, dryRun: req.dryRun, idempotencyKey: req.idempotencyKey,
        });
      },

      async confirmBooking(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT, Role.ROLE_ADMIN, Role.ROLE_SERVICE]);
        const row = await db.transaction(async (trx) => {
          const found = await findBooking(trx, caller, req.bookingId, req.gpuId, true);
          if (found.status !== 'active') throw new DomainError('FAILED_PRECONDITION', `booking ${found.booking_id} has already ended (${found.status})`);
          if (found.confirmed_at) return found;
          const confirmed = await store.confirm(trx, found.booking_id);
          await outbox.enqueue(trx, [bookingConfirmed(confirmed)]);
          return confirmed;
        });
        return { booking: bookingMessage(row) };
      },

      async releaseBooking(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_CLIENT, Role.ROLE_ADMIN, Role.ROLE_SERVICE]);
        return { booking: bookingMessage(await endNow(await findBooking(db, caller, req.bookingId, req.gpuId, false), usedSoFar('released', 'released'))) };
      },

      async getBooking(req) {
        const caller = requireCaller(req.caller, ANYONE);
        const row = isId(req.bookingId, 'bkg') ? await store.get(db, req.bookingId) : undefined;
        if (!row || !visibleTo(row, caller)) throw notFound(`booking ${req.bookingId}`);
        return { booking: bookingMessage(row) };
      },

      async listOrders(req) {
        const caller = requireCaller(req.caller, ANYONE);
        const limit = req.limit || 10;
        if (limit > 500) throw invalid('limit', 'must be from 1 to 500');
        const status = req.status ? STATUS_NAME[req.status] : undefined;
        const rows = await store.listOrders(db, {
          clientId: caller.role === Role.ROLE_CLIENT ? caller.accountId : undefined,
          bookedBy: caller.role === Role.ROLE_SERVICE ? caller.accountId : undefined,
          ownerId: caller.role === Role.ROLE_PROVIDER ? caller.accountId : undefined,
          status, limit, after: req.cursor ? decodeTimeCursor(req.cursor) : undefined,
        });
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return {
          orders: page.map(bookingMessage),
          nextCursor: rows.length > limit ? encodeTimeCursor(last.created_at, last.booking_id) : '',
        };
      },

      async findAvailableGpu(req) {
        requireCaller(req.caller, [Role.ROLE_SERVICE, Role.ROLE_ADMIN]);
        return { gpus: await candidates(req.requirements) };
      },

      async bookForJob(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_SERVICE]);
        if (!req.jobId) throw invalid('job_id', 'is required');
        if (!req.clientId) throw invalid('client_id', 'is required');
        if (!isAccountId(req.clientId)) throw invalid('client_id', 'must be an account id: 1-64 letters, digits, ".", "_" or "-"');
        // Concurrent calls for one job can deadlock each other on the two constraints they race
        // for (the GPU's time, the job's one booking): the loser asks again, and finds the winner's.
        for (let attempt = 1; ; attempt++) {
          try {
            return await bookJobOnce(caller, req);
          } catch (err) {
            if ((err as { code?: string }).code !== DEADLOCK || attempt === 3) throw err;
          }
        }
      },

      async endJob(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_SERVICE]);
        const ending = (row: BookingRow): Ending => {
          switch (req.outcome) {
            case JobOutcome.JOB_OUTCOME_COMPLETED:
              return usedSoFar('released', 'job_completed')(row);
            case JobOutcome.JOB_OUTCOME_FAILED:
              return usedSoFar('released', 'job_failed')(row);
            case JobOutcome.JOB_OUTCOME_MINER_FAILED:
              return { status: 'cancelled', reason: 'job_failed_miner', charged: 0, refund: row.total_cost_micro, endedAt: now() };
            default:
              throw invalid('outcome', 'must be COMPLETED, FAILED or MINER_FAILED');
          }
        };
        const row = await findBooking(db, caller, req.bookingId, '', false);
        // A job's end settles a job's booking; a client's own booking is the client's to end.
        if (!row.job_id) throw new DomainError('FAILED_PRECONDITION', `booking ${row.booking_id} is not a job's booking; release it instead`, 'booking_id');
        return { booking: bookingMessage(await endNow(row, ending)) };
      },
    },
  };

  /** One try at booking a job: its live booking if it has one, else the cheapest candidate that can be had. */
  async function bookJobOnce(caller: Caller, req: BookForJobRequest): Promise<BookForJobResponse> {
    const existing = await store.activeForJob(db, req.clientId, req.jobId);
    if (existing) return { booking: bookingMessage(existing), replayed: true };
    const gpus = await candidates(req.requirements);
    if (!gpus.length) throw new DomainError('FAILED_PRECONDITION', 'no available GPU matches the requirements');
    let lastError: unknown;
    for (const gpu of gpus) {
      try {
        const res = await create({
          caller, clientId: req.clientId, gpuId: gpu.id, durationHours: req.durationHours, jobId: req.jobId,
          maxTotalCostMicro: req.maxTotalCostMicro, dryRun: false, idempotencyKey: '',
        });
        return { booking: res.booking, replayed: false };
      } catch (err) {
        // A concurrent call for the same job booked first: answer with its booking.
        if (err instanceof DomainError && err.details?.reason === 'job_has_booking') {
          const held = await store.activeForJob(db, req.clientId, req.jobId);
          if (held) return { booking: bookingMessage(held), replayed: true };
        }
        // Taken or gone since the search: try the next candidate.
        if (!(err instanceof DomainError) || (err.code !== 'FAILED_PRECONDITION' && err.code !== 'NOT_FOUND')) throw err;
        if (err.field === 'total_cost') throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  async function candidates(requirements: { model: string; memoryMin: number; region: string; maxPricePerHourMicro?: number } | undefined): Promise<Gpu[]> {
    const r = requirements ?? { model: '', memoryMin: 0, region: '' };
    const { gpus } = await registry.listGpus({
      caller: undefined, available: true, status: 0, model: r.model, memoryMin: r.memoryMin || undefined, region: r.region,
      priceMaxMicro: r.maxPricePerHourMicro, minerId: '', sort: GpuSort.GPU_SORT_PRICE_ASC, limit: 5, cursor: '', ownerId: '',
    }, { deadlineMs: 1000 });
    return gpus;
  }
}

/**
 * The conflict of a booking refused for overlapping live ones (`taken`, the last to end
 * first), saying when the GPU is free again (`booked_until`) so the client can act on it.
 * When one in the way is the client's own (a retry after a timed-out answer, say) it names
 * it. With nothing in the way any more (it ended meanwhile), a retry may succeed.
 */
function overlapConflict(gpuId: string, taken: Overlap[], clientId: string): DomainError {
  if (!taken.length) return new DomainError('FAILED_PRECONDITION', `GPU ${gpuId} was booked for an overlapping time; try again`);
  const until = taken[0].end_time.toISOString();
  const mine = taken.find((b) => b.client_id === clientId);
  if (mine) {
    return new DomainError('FAILED_PRECONDITION',
      `you already hold booking ${mine.booking_id} on GPU ${gpuId} until ${mine.end_time.toISOString()}; ` +
      `release it first, or pick a start_time at or after ${until}`,
      undefined, { booked_until: until, booking_id: mine.booking_id });
  }
  return new DomainError('FAILED_PRECONDITION',
    `GPU ${gpuId} is already booked until ${until}; pick another GPU, or a start_time at or after ${until}`,
    undefined, { booked_until: until });
}

/** A quote in the details of a refused booking (micro-units; the gateway turns them into AITBC). */
function quoteDetails(quote: Quote): Record<string, unknown> {
  return {
    gpu_id: quote.gpuId, duration_seconds: quote.durationSeconds, price_per_hour_micro: quote.pricePerHourMicro,
    total_cost_micro: quote.totalCostMicro, pricing: quote.pricing,
  };
}


