import type { Caller } from '../../../lib/caller';
import { type Knex, retryDeadlocks } from '../../../lib/db';
import { DomainError } from '../../../lib/errors';
import type { BookForJobRequest, BookForJobResponse, JobRequirements } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import { type Gpu, GpuSort, type RegistryServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import type { AsyncClient } from '../../../lib/grpcClient';
import type { Booker } from './booker';
import { bookingMessage } from './bookingMessage';
import { mayActOn } from './domain/access';
import { type BookingRow, type BookingStore } from './store';

/**
 * The coordinator's side of booking: finding GPUs that meet a job's requirements (the
 * registry's search, cheapest first) and booking one for the job, once.
 */
export function createJobs(deps: { db: Knex; store: BookingStore; booker: Booker; registry: AsyncClient<RegistryServiceClient> }) {
  const { db, store, booker } = deps;

  async function candidates(requirements: JobRequirements | undefined): Promise<Gpu[]> {
    const r = requirements ?? { model: '', memoryMin: 0, region: '' };
    const { gpus } = await deps.registry.listGpus({
      caller: undefined, available: true, status: 0, model: r.model, memoryMin: r.memoryMin || undefined, region: r.region,
      priceMaxMicro: r.maxPricePerHourMicro, minerId: '', sort: GpuSort.GPU_SORT_PRICE_ASC, limit: 5, cursor: '', ownerId: '',
    }, { deadlineMs: 1000 });
    return gpus;
  }

  /** One try: the job's live booking if it has one, else the cheapest candidate that can be had. */
  async function bookOnce(caller: Caller, req: BookForJobRequest): Promise<BookForJobResponse> {
    const existing = await store.activeForJob(db, req.clientId, req.jobId);
    if (existing) return replayOf(caller, existing, req.jobId);
    const gpus = await candidates(req.requirements);
    if (!gpus.length) throw new DomainError('FAILED_PRECONDITION', 'no available GPU matches the requirements');
    let lastError: unknown;
    for (const gpu of gpus) {
      try {
        const res = await booker.book(caller, {
          clientId: req.clientId, gpuId: gpu.id, durationHours: req.durationHours, jobId: req.jobId,
          maxTotalCostMicro: req.maxTotalCostMicro, dryRun: false, idempotencyKey: '',
        });
        return { booking: res.booking, replayed: false };
      } catch (err) {
        // A concurrent call for the same job booked first: answer with its booking.
        if (err instanceof DomainError && err.details?.reason === 'job_has_booking') {
          const held = await store.activeForJob(db, req.clientId, req.jobId);
          if (held) return replayOf(caller, held, req.jobId);
        }
        // Taken or gone since the search: try the next candidate.
        if (!(err instanceof DomainError) || (err.code !== 'FAILED_PRECONDITION' && err.code !== 'NOT_FOUND') || err.field === 'total_cost') throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  /** The job's live booking, again; one the client made itself is not this service's to see. */
  function replayOf(caller: Caller, row: BookingRow, jobId: string): BookForJobResponse {
    if (!mayActOn(row, caller)) throw new DomainError('FAILED_PRECONDITION', `job ${jobId} of this client already holds a live booking that this service did not make`, 'job_id');
    return { booking: bookingMessage(row), replayed: true };
  }

  return {
    candidates,
    async bookForJob(caller: Caller, req: BookForJobRequest): Promise<BookForJobResponse> {
      // Bookings for one job take turns, but a CreateBooking racing them can still deadlock
      // against one: the loser asks again, and finds the winner's.
      return retryDeadlocks(() => bookOnce(caller, req));
    },
  };
}
