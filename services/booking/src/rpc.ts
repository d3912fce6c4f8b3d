import { type Caller, requireCaller, Role, ANYONE } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid, notFound } from '../../../lib/errors';
import type { Outbox } from '../../../lib/events/outbox';
import { BookingServiceService, type BookingServiceServer, JobOutcome } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import type { ServiceBinding } from '../../../lib/grpcServer';
import { isId } from '../../../lib/ids';
import { page, readCursor } from '../../../lib/paging';
import type { Booker } from './booker';
import { bookingMessage, statusName } from './bookingMessage';
import { mayActOn, maySee } from './domain/access';
import { requireJobFields } from './domain/bookingRequest';
import type { EndCause } from './domain/lifecycle';
import { bookingConfirmed } from './events';
import type { createEndings } from './endings';
import type { createJobs } from './jobs';
import type { BookingRow, BookingStore } from './store';

export interface BookingHandlerDeps {
  db: Knex;
  store: BookingStore;
  outbox: Outbox;
  booker: Booker;
  endNow: ReturnType<typeof createEndings>;
  jobs: ReturnType<typeof createJobs>;
  /** Service accounts that may see every booking (the accounts service, reconciling holds). */
  ledgerAccounts: ReadonlySet<string>;
  /** Service accounts that may book for a client (its money is held): the coordinator and the market. */
  agents: ReadonlySet<string>;
}

const RENTERS = [Role.ROLE_CLIENT, Role.ROLE_SERVICE];
const ACTORS = [Role.ROLE_CLIENT, Role.ROLE_ADMIN, Role.ROLE_SERVICE];
const JOB_END: Partial<Record<JobOutcome, EndCause>> = {
  [JobOutcome.JOB_OUTCOME_COMPLETED]: 'job_completed',
  [JobOutcome.JOB_OUTCOME_FAILED]: 'job_failed',
  [JobOutcome.JOB_OUTCOME_MINER_FAILED]: 'job_failed_miner',
};

/** gRPC handlers of aitbc.marketplace.v1.BookingService: requests in, the booker, endings and jobs do the work. */
export function createBookingHandlers(deps: BookingHandlerDeps): ServiceBinding<BookingServiceServer> {
  const { db, store, outbox, booker, endNow, jobs } = deps;

  /** A service booking names the client who pays: only the agents may, not every service key. */
  const mayBookFor = (caller: Caller) => {
    if (caller.role === Role.ROLE_SERVICE && !deps.agents.has(caller.accountId)) {
      throw new DomainError('PERMISSION_DENIED', `only ${[...deps.agents].join(' and ') || 'no service'} may book for clients, not ${caller.accountId} (BOOKING_AGENTS)`);
    }
    return caller;
  };

  /** The booking a call acts on: by id (if the caller may act on it), or the caller's live booking on a GPU. */
  async function findBooking(conn: Knex, caller: Caller, bookingId: string, gpuId: string, lock: boolean): Promise<BookingRow> {
    if (bookingId) {
      const row = isId(bookingId, 'bkg') ? await store.get(conn, bookingId, lock) : undefined;
      if (!row || !mayActOn(row, caller)) throw notFound(`booking ${bookingId}`);
      return row;
    }
    if (!gpuId) throw invalid('booking_id', 'name the booking or the GPU');
    const row = await store.liveForClient(conn, gpuId, caller.accountId, lock);
    if (!row) throw new DomainError('FAILED_PRECONDITION', `you hold no active booking on GPU ${gpuId}`);
    return row;
  }

  return {
    definition: BookingServiceService,
    implementation: {
      async createBooking(req) {
        const caller = mayBookFor(requireCaller(req.caller, RENTERS));
        return booker.book(caller, {
          clientId: caller.role === Role.ROLE_SERVICE ? req.clientId : caller.accountId, gpuId: req.gpuId, durationHours: req.durationHours,
          startTime: req.startTime, jobId: req.jobId, maxTotalCostMicro: req.maxTotalCostMicro, dryRun: req.dryRun, idempotencyKey: req.idempotencyKey,
        });
      },

      async confirmBooking(req) {
        const caller = requireCaller(req.caller, ACTORS);
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
        const caller = requireCaller(req.caller, ACTORS);
        return { booking: bookingMessage(await endNow(await findBooking(db, caller, req.bookingId, req.gpuId, false), 'released')) };
      },

      async getBooking(req) {
        const caller = requireCaller(req.caller, ANYONE);
        const row = isId(req.bookingId, 'bkg') ? await store.get(db, req.bookingId) : undefined;
        if (!row || !maySee(row, caller, deps.ledgerAccounts)) throw notFound(`booking ${req.bookingId}`);
        return { booking: bookingMessage(row) };
      },

      async listOrders(req) {
        const caller = requireCaller(req.caller, ANYONE);
        const limit = req.limit || 10;
        if (limit > 500) throw invalid('limit', 'must be from 1 to 500');
        if (req.status && !statusName(req.status)) throw invalid('status', 'must be active, completed, released or cancelled');
        const rows = await store.listOrders(db, {
          clientId: caller.role === Role.ROLE_CLIENT ? caller.accountId : undefined,
          bookedBy: caller.role === Role.ROLE_SERVICE ? caller.accountId : undefined,
          // A miner id names a rig within its owner's account: with one, an admin sees its own.
          ownerId: caller.role === Role.ROLE_PROVIDER || (req.minerId && caller.role === Role.ROLE_ADMIN) ? caller.accountId : undefined,
          minerId: req.minerId || undefined, minTotalMicro: req.minTotalMicro,
          status: req.status ? statusName(req.status) : undefined, limit, after: readCursor('orders', req.cursor),
        });
        const { items, nextCursor } = page(rows, limit, 'orders', (last) => [last.created_at, last.booking_id]);
        return { orders: items.map(bookingMessage), nextCursor };
      },

      async findAvailableGpu(req) {
        requireCaller(req.caller, [Role.ROLE_SERVICE, Role.ROLE_ADMIN]);
        return { gpus: await jobs.candidates(req.requirements) };
      },

      async bookForJob(req) {
        const caller = mayBookFor(requireCaller(req.caller, [Role.ROLE_SERVICE]));
        requireJobFields(req.clientId, req.jobId);
        return jobs.bookForJob(caller, req);
      },

      async endJob(req) {
        const caller = requireCaller(req.caller, [Role.ROLE_SERVICE]);
        const cause = JOB_END[req.outcome];
        if (!cause) throw invalid('outcome', 'must be COMPLETED, FAILED or MINER_FAILED');
        const row = await findBooking(db, caller, req.bookingId, '', false);
        // A job's end settles a job's booking; a client's own booking is the client's to end.
        if (!row.job_id) throw new DomainError('FAILED_PRECONDITION', `booking ${row.booking_id} is not a job's booking; release it instead`, 'booking_id');
        return { booking: bookingMessage(await endNow(row, cause)) };
      },
    },
  };
}
