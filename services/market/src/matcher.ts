import type { Knex } from '../../../lib/db';
import { DomainError } from '../../../lib/errors';
import type { BookingServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/booking';
import type { AsyncClient } from '../../../lib/grpcClient';
import type { Logger } from '../../../lib/logger';
import { mulDivRound } from '../../../lib/money';
import type { Worker } from '../../../lib/service';
import type { BidRow, BidStore, ClaimCursor } from './bidStore';
import { type FreeGpu, planFills } from './domain/matching';
import type { MarketStore } from './marketStore';
import { metrics } from '../../../lib/metrics';

/** Failures of the booking call that say nothing about the bid: retry the pass later. */
const TRANSIENT = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED', 'RESOURCE_EXHAUSTED', 'INTERNAL']);

export interface MatcherDeps {
  db: Knex;
  bids: BidStore;
  market: MarketStore;
  booking: AsyncClient<BookingServiceClient>;
  logger: Logger;
  /** A fill's bookings start this long after it (so one that cannot be completed is given back unused). */
  leadMs: number;
  /** How often bids are looked at without an event (expiry, and a safety net). */
  intervalMs: number;
  /** Pending bids claimed per transaction; a pass goes through all of them, batch by batch. */
  batch: number;
}

/**
 * Fills bids by themselves. Woken by anything that may free a GPU or open an offer (and on a
 * timer), it claims pending bids (FOR UPDATE SKIP LOCKED: replicas share them, none is
 * filled by two), plans which free GPUs go to which bid (highest price first; cheapest, then
 * best rated GPUs), and books each bid's GPUs through the booking service, all or none:
 * bookings start `leadMs` later, so a fill that cannot be completed releases the ones it made
 * before they start, unpaid. Each slot of a bid books with the job id `<bid>-<slot>`: a fill
 * interrupted by a crash finds its slots booked already, and never books them twice.
 */
export function createMatcher(deps: MatcherDeps): Worker & { poke(): void; runOnce(): Promise<number> } {
  const { db, bids, market, booking, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let again = false;
  let stopped = true;

  /** Books one bid's GPUs; the booking ids when all are booked, else undefined (and nothing kept). */
  async function fill(bid: BidRow, candidates: FreeGpu[], start: Date): Promise<{ bookingId: string; gpuId: string }[] | undefined> {
    const made: { bookingId: string; gpuId: string }[] = [];
    const maxTotal = mulDivRound(bid.price_micro, bid.duration_seconds, 3600);
    for (const gpu of candidates) {
      if (made.length === bid.capacity) break;
      try {
        const res = await booking.createBooking({
          caller: undefined, clientId: bid.client_id, gpuId: gpu.gpu_id, durationHours: bid.duration_seconds / 3600, startTime: start,
          jobId: `${bid.bid_id}-${made.length}`, maxTotalCostMicro: maxTotal, dryRun: false, idempotencyKey: '',
        }, { deadlineMs: 5000 });
        made.push({ bookingId: res.booking!.bookingId, gpuId: gpu.gpu_id });
        await market.noteBooking(db, res.booking!);
      } catch (err) {
        const details = err instanceof DomainError ? err.details : undefined;
        const reason = details?.reason;
        // This slot was booked before an interruption: it counts.
        if (reason === 'job_has_booking' && typeof details?.booking_id === 'string') made.push({ bookingId: details.booking_id, gpuId: gpu.gpu_id });
        else if (reason === 'insufficient_funds') {
          await giveBack(made);
          throw err;
        } else if (!(err instanceof DomainError) || !['FAILED_PRECONDITION', 'NOT_FOUND', 'INVALID_ARGUMENT'].includes(err.code)) {
          await giveBack(made);
          throw err;
        }
        // Taken, offline or dearer since the plan: the next candidate.
      }
    }
    if (made.length === bid.capacity) return made;
    await giveBack(made);
    return undefined;
  }

  async function giveBack(made: { bookingId: string }[]): Promise<void> {
    for (const { bookingId } of made) {
      await booking.releaseBooking({ caller: undefined, bookingId, gpuId: '' }).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message, bookingId }, 'could not release a booking of an unfinished fill'));
    }
  }

  /**
   * One pass over every pending bid, in batches (so bids beyond the first batch are not
   * starved by ones above them that nothing fits), against the GPUs free when it began. GPUs
   * a batch took are kept from later batches of the pass.
   */
  async function runOnce(): Promise<number> {
    await bids.expire(db);
    // What is free is read once per pass: a GPU freed while the pass walks down the bids waits
    // for the next pass (its event asks for one), or a lower batch would get it before the
    // higher bids a batch above had a chance at it.
    const free = await market.free(db, deps.leadMs);
    const taken = new Set<string>();
    let after: ClaimCursor | undefined;
    let filled = 0;
    for (;;) {
      const batch = await runBatch(after, taken, free);
      filled += batch.filled;
      if (!batch.last) break;
      after = batch.last;
    }
    if (filled) logger.info({ filled }, 'bids filled');
    return filled;
  }

  async function runBatch(
    after: ClaimCursor | undefined, taken: Set<string>, freeAtStart: Awaited<ReturnType<MarketStore['free']>>,
  ): Promise<{ filled: number; last?: ClaimCursor }> {
    return db.transaction(async (trx) => {
      const pending = await bids.claimPending(trx, deps.batch, after);
      if (!pending.length) return { filled: 0 };
      const free = freeAtStart.filter((g) => !taken.has(g.gpu_id)).map((g) => ({ ...g, free_until_ms: g.free_until ? g.free_until.getTime() : null }));
      const start = new Date(Date.now() + deps.leadMs);
      const plans = free.length ? planFills(pending.map((b) => ({ ...b, needed_until_ms: start.getTime() + b.duration_seconds * 1000 })), free) : new Map();
      let filled = 0;
      let halted = false;
      for (const bid of pending) {
        const candidates = plans.get(bid.bid_id);
        if (!candidates || halted) continue;
        try {
          const made = await fill(bid, candidates, start);
          if (made) {
            await bids.accept(trx, bid.bid_id, made.map((m) => m.bookingId));
            for (const m of made) taken.add(m.gpuId);
            filled++;
          }
        } catch (err) {
          if (err instanceof DomainError && err.details?.reason === 'insufficient_funds') {
            await trx('bids').where({ bid_id: bid.bid_id }).update({ status: 'rejected', reason: 'not enough balance to pay for it', decided_at: trx.fn.now() });
          } else {
            logger.warn({ err: (err as Error).message, bidId: bid.bid_id }, 'bid not filled this time');
            // Booking could not answer (down, slow, overloaded): the pass stops here rather
            // than hand this bid's GPUs to lower bids; the next pass (an event, or the timer)
            // tries again in price order.
            if (!(err instanceof DomainError) || TRANSIENT.has(err.code)) halted = true;
          }
        }
      }
      const lastRow = pending[pending.length - 1];
      return { filled, last: pending.length === deps.batch && !halted ? { price_micro: lastRow.price_micro, cursor_at: lastRow.cursor_at, bid_id: lastRow.bid_id } : undefined };
    });
  }

  let pokedAt: Date | undefined;
  /** One pass at a time; a poke during a pass runs another right after it. */
  function run(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    // The lag of a pass is from the earliest poke it answers (a bid, a freed GPU) to its end.
    const since = pokedAt;
    pokedAt = undefined;
    running = runOnce().catch((err: unknown) => {
      logger.warn({ err: (err as Error).message }, 'matching failed; it runs again shortly');
      return 0;
    }).finally(() => {
      if (since) metrics.bidMatchLag('market', since);
      running = undefined;
      if (again) {
        again = false;
        run();
      }
    });
  }

  return {
    name: 'bid-matcher',
    poke() {
      pokedAt ??= new Date();
      run();
    },
    runOnce,
    start() {
      stopped = false;
      timer = setInterval(run, deps.intervalMs);
      run();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
