import { deleteInBatches, type Knex } from '../../../lib/db';
import type { OutboxRow } from '../../../lib/events/outbox';

export type BookingStatusName = 'active' | 'completed' | 'released' | 'cancelled';

/** A row of booking.bookings (a booking and its order). */
export interface BookingRow {
  booking_id: string;
  order_id: string;
  gpu_id: string;
  gpu_model: string;
  miner_id: string;
  owner_id: string;
  client_id: string;
  job_id: string;
  status: BookingStatusName;
  start_time: Date;
  end_time: Date;
  duration_seconds: number;
  price_per_hour_micro: number;
  listed_price_micro: number;
  multiplier: number;
  price_source: string;
  total_cost_micro: number;
  charged_micro: number | null;
  refund_micro: number | null;
  confirmed_at: Date | null;
  ended_at: Date | null;
  end_reason: string | null;
  created_at: Date;
  completed_at: Date | null;
  /** Whether the GPU was checked to be online when the booking's window opened. */
  window_checked: boolean;
  /** The account that made the booking: the client itself, or the service that booked for it (null: before this was recorded). */
  booked_by: string | null;
}

export interface Ending {
  status: Exclude<BookingStatusName, 'active'>;
  reason: string;
  charged: number;
  refund: number;
  endedAt: Date;
}

export interface OrderQuery {
  clientId?: string;
  bookedBy?: string;
  ownerId?: string;
  status?: BookingStatusName;
  limit: number;
  after?: { at: string; id: string };
}

/** A live booking in the way of a new one. */
export type Overlap = Pick<BookingRow, 'booking_id' | 'client_id' | 'end_time'>;

/** PostgreSQL's exclusion_violation: an overlapping live booking exists. */
export const EXCLUSION_VIOLATION = '23P01';
/** PostgreSQL's deadlock_detected: one of two racing transactions was rolled back. */
export const DEADLOCK = '40P01';
/** The unique index that keeps a job to one live booking per client. */
export const ONE_LIVE_PER_JOB = 'bookings_one_live_per_job';
/** Whether an error is the unique violation of ONE_LIVE_PER_JOB. */
export const isJobTaken = (err: unknown): boolean =>
  (err as { code?: string }).code === '23505' && (err as { constraint?: string }).constraint === ONE_LIVE_PER_JOB;

/** The booking service's only SQL. */
export const bookingStore = {
  /**
   * Inserts a booking and its event in one statement: atomic without a transaction, and one
   * round trip (the hot path of booking). Throws the exclusion violation on overlap.
   */
  async insertWithEvent(db: Knex, row: BookingRow, event: OutboxRow): Promise<void> {
    const insert = db('bookings').insert(row).toSQL();
    await db.raw(
      `WITH b AS (${insert.sql} RETURNING booking_id)
       INSERT INTO outbox (event_id, type, aggregate_id, envelope) SELECT ?, ?, ?, ? FROM b`,
      [...insert.bindings, event.event_id, event.type, event.aggregate_id, event.envelope],
    );
  },

  /**
   * Ends a live booking and writes its event in one statement; false when it was no longer
   * active (another call ended it first).
   */
  async endWithEvent(db: Knex, bookingId: string, ending: Ending, completedAt: Date, event: OutboxRow): Promise<boolean> {
    const { rows } = await db.raw(
      `WITH u AS (
         UPDATE bookings SET status = ?, end_reason = ?, charged_micro = ?, refund_micro = ?, ended_at = ?, completed_at = ?
         WHERE booking_id = ? AND status = 'active' RETURNING booking_id
       )
       INSERT INTO outbox (event_id, type, aggregate_id, envelope) SELECT ?, ?, ?, ? FROM u RETURNING id`,
      [ending.status, ending.reason, ending.charged, ending.refund, ending.endedAt, completedAt, bookingId,
        event.event_id, event.type, event.aggregate_id, event.envelope],
    );
    return rows.length === 1;
  },

  async get(db: Knex, bookingId: string, lock = false): Promise<BookingRow | undefined> {
    const q = db<BookingRow>('bookings').where({ booking_id: bookingId });
    if (lock) q.forUpdate();
    return q.first();
  },

  /** The client's live booking on a GPU: the one running now, else the next one. */
  async liveForClient(db: Knex, gpuId: string, clientId: string, lock = false): Promise<BookingRow | undefined> {
    const q = db<BookingRow>('bookings').where({ gpu_id: gpuId, client_id: clientId, status: 'active' }).orderBy('start_time').first();
    if (lock) q.forUpdate();
    return q;
  },

  /** Holds, until the transaction ends, the one lock a (client, job) pair's bookings take turns on. */
  async lockJob(trx: Knex, clientId: string, jobId: string): Promise<void> {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [`job:${clientId}:${jobId}`]);
  },

  async activeForJob(db: Knex, clientId: string, jobId: string): Promise<BookingRow | undefined> {
    return db<BookingRow>('bookings').where({ client_id: clientId, job_id: jobId, status: 'active' }).first();
  },

  /**
   * The live bookings of the GPU overlapping [start, end), the last to end first (advisory:
   * dry runs and the message of a refused booking; the exclusion constraint decides).
   */
  async overlaps(db: Knex, gpuId: string, start: Date, end: Date): Promise<Overlap[]> {
    return db('bookings')
      .where({ gpu_id: gpuId, status: 'active' })
      .whereRaw("tstzrange(start_time, end_time, '[)') && tstzrange(?, ?, '[)')", [start, end])
      .orderBy('end_time', 'desc')
      .limit(50)
      .select('booking_id', 'client_id', 'end_time');
  },

  async confirm(db: Knex, bookingId: string): Promise<BookingRow> {
    const [row] = await db<BookingRow>('bookings')
      .where({ booking_id: bookingId })
      .update({ confirmed_at: db.raw('COALESCE(confirmed_at, now())') } as never)
      .returning('*');
    return row as BookingRow;
  },

  async end(db: Knex, bookingId: string, ending: Ending): Promise<BookingRow> {
    const [row] = await db<BookingRow>('bookings')
      .where({ booking_id: bookingId, status: 'active' })
      .update({
        status: ending.status, end_reason: ending.reason, charged_micro: ending.charged, refund_micro: ending.refund,
        ended_at: ending.endedAt, completed_at: db.fn.now(),
      } as never)
      .returning('*');
    return row as BookingRow;
  },

  /**
   * Claims bookings whose end time has passed and completes them, fully charged. SKIP LOCKED
   * lets several replicas expire side by side without ending one booking twice.
   */
  async expireDue(db: Knex, limit: number): Promise<BookingRow[]> {
    const { rows } = await db.raw(
      `WITH due AS (
         SELECT booking_id FROM bookings WHERE status = 'active' AND end_time <= now()
         ORDER BY end_time LIMIT ? FOR UPDATE SKIP LOCKED
       )
       UPDATE bookings b SET status = 'completed', end_reason = 'expired', charged_micro = total_cost_micro,
         refund_micro = 0, ended_at = b.end_time, completed_at = now()
       FROM due WHERE b.booking_id = due.booking_id
       RETURNING b.*`,
      [limit],
    );
    return rows;
  },

  /** Records a GPU's liveness as of `at`, unless a later change is already recorded. */
  async noteLiveness(db: Knex, gpuId: string, online: boolean, at: Date): Promise<void> {
    await db.raw(
      `INSERT INTO gpu_liveness (gpu_id, online, changed_at) VALUES (?, ?, ?)
       ON CONFLICT (gpu_id) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at
       WHERE gpu_liveness.changed_at <= excluded.changed_at`,
      [gpuId, online, at],
    );
  },

  /**
   * Claims reservations whose window has opened and were not checked yet (locked, SKIP
   * LOCKED so replicas share them), each with whether its GPU was offline since before its
   * start, and marks them checked.
   */
  async claimOpenedWindows(db: Knex, limit: number): Promise<(BookingRow & { gpu_gone: boolean })[]> {
    const { rows } = await db.raw(
      `WITH due AS (
         SELECT b.booking_id, coalesce(NOT g.online AND g.changed_at <= b.start_time, false) AS gpu_gone
         FROM bookings b LEFT JOIN gpu_liveness g ON g.gpu_id = b.gpu_id
         WHERE b.status = 'active' AND NOT b.window_checked AND b.start_time <= now()
         ORDER BY b.start_time LIMIT ? FOR UPDATE OF b SKIP LOCKED
       )
       UPDATE bookings b SET window_checked = true FROM due WHERE b.booking_id = due.booking_id
       RETURNING b.*, due.gpu_gone`,
      [limit],
    );
    return rows;
  },

  /**
   * Live bookings of a GPU (locked) not over by `from`; with `to`, only those already started
   * by then (running at some moment of [from, to]).
   */
  async liveOnGpu(db: Knex, gpuId: string, from: Date, to?: Date): Promise<BookingRow[]> {
    const q = db<BookingRow>('bookings').where({ gpu_id: gpuId, status: 'active' }).where('end_time', '>', from).orderBy('start_time').forUpdate();
    if (to) q.where('start_time', '<=', to);
    return q;
  },

  async listOrders(db: Knex, query: OrderQuery): Promise<BookingRow[]> {
    const q = db<BookingRow>('bookings');
    if (query.clientId) q.where('client_id', query.clientId);
    if (query.bookedBy) q.where((w) => w.where('booked_by', query.bookedBy!).orWhereNull('booked_by'));
    if (query.ownerId) q.where('owner_id', query.ownerId);
    if (query.status) q.where('status', query.status);
    if (query.after) q.whereRaw('(created_at, booking_id) < (?::timestamptz, ?)', [query.after.at, query.after.id]);
    return q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'booking_id', order: 'desc' }]).limit(query.limit + 1);
  },

  idempotency: {
    async find(db: Knex, accountId: string, key: string): Promise<{ request_hash: string; response: Buffer | null } | undefined> {
      return db('idempotency_keys').where({ account_id: accountId, key }).first('request_hash', 'response');
    },
    /** Claims a key; false when it exists (waits for a concurrent claim to commit or roll back). */
    async claim(db: Knex, accountId: string, key: string, requestHash: string): Promise<boolean> {
      const rows = await db('idempotency_keys')
        .insert({ account_id: accountId, key, request_hash: requestHash })
        .onConflict(['account_id', 'key'])
        .ignore()
        .returning('key');
      return rows.length > 0;
    },
    async saveResponse(db: Knex, accountId: string, key: string, response: Buffer): Promise<void> {
      await db('idempotency_keys').where({ account_id: accountId, key }).update({ response });
    },
    /** Keys are kept at least 24 hours; this drops those older than `olderThanMs`. */
    async prune(db: Knex, olderThanMs: number): Promise<number> {
      const before = new Date(Date.now() - olderThanMs);
      return deleteInBatches(db, 'idempotency_keys', ['account_id', 'key'], (q) => q.where('created_at', '<', before));
    },
  },
};

export type BookingStore = typeof bookingStore;
