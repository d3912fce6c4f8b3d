import type { Knex } from '../../../lib/db';
import type { EventEnvelope } from '../../../lib/events/envelope';
import type { Outbox } from '../../../lib/events/outbox';
import type { Overlap } from './domain/conflict';
import type { BookingStatusName, Settlement } from './domain/lifecycle';

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
  /** The one moment the booking ended (null while it is live). */
  ended_at: Date | null;
  end_reason: string | null;
  created_at: Date;
  /** Whether the GPU was checked to be online when the booking's window opened. */
  window_checked: boolean;
  /** The account that made the booking: the client itself, or the service that booked for it (null: before this was recorded). */
  booked_by: string | null;
}

/** A booking to end, and how (from the domain's endBooking). */
export interface Ending {
  row: BookingRow;
  settlement: Settlement;
}

export interface OrderQuery {
  clientId?: string;
  bookedBy?: string;
  ownerId?: string;
  minerId?: string;
  minTotalMicro?: number;
  status?: BookingStatusName;
  limit: number;
  after?: { at: string; id: string };
}

/** PostgreSQL's exclusion_violation: an overlapping live booking exists. */
export const EXCLUSION_VIOLATION = '23P01';
/** Whether an error is the unique violation of the index that keeps a job to one live booking. */
export const isJobTaken = (err: unknown): boolean =>
  (err as { code?: string }).code === '23505' && (err as { constraint?: string }).constraint === 'bookings_one_live_per_job';

/** The row a settlement leaves behind. */
export const endedRow = (row: BookingRow, s: Settlement): BookingRow => ({
  ...row, status: s.status, end_reason: s.reason, charged_micro: s.charged, refund_micro: s.refund, ended_at: s.endedAt,
});

/** The booking service's SQL over its bookings (the GPU snapshot and idempotency keys have stores of their own). */
export const bookingStore = {
  /**
   * Inserts a booking and its event in one statement, only while the GPU snapshot says the
   * GPU is online and before its hold's deadline: false when not (the GPU went offline since
   * it was read, or the hold is past its deadline and may be given back). The snapshot row is
   * read FOR SHARE: a concurrent offline or unregister (which updates that row, then cancels
   * the GPU's live bookings) either waits for this insert and then cancels it, or commits
   * first and this insert, re-checking the row, is refused. Neither leaves a booking behind. Throws the
   * exclusion violation on an overlap, the job index's unique violation for a second live
   * booking of one job.
   */
  async insert(db: Knex, outbox: Outbox, row: BookingRow, event: EventEnvelope, deadline?: Date): Promise<boolean> {
    const rows = await outbox.withChange(db, {
      // Inserts of one GPU take turns (a transaction advisory lock, taken before the row goes
      // in): two racing inserts of overlapping windows otherwise each wait on the other's
      // exclusion check, and PostgreSQL ends one as a deadlock after a second. In turn, the
      // second sees the first committed and is refused as an overlap at once.
      sql: `INSERT INTO bookings SELECT (json_populate_record(null::bookings, ?::json)).*
            WHERE (SELECT true FROM (SELECT pg_advisory_xact_lock(hashtextextended(?, 0))) AS turn)
              AND EXISTS (SELECT 1 FROM gpus WHERE gpu_id = ? AND online AND unregistered_at IS NULL FOR SHARE)
              AND (?::timestamptz IS NULL OR now() < ?::timestamptz)
            RETURNING booking_id`,
      bindings: [JSON.stringify(row), `gpu-bookings:${row.gpu_id}`, row.gpu_id, deadline ?? null, deadline ?? null],
    }, [event]);
    return rows.length === 1;
  },

  /** Whether `deadline` has passed by the database's clock (the one the insert checks). */
  async passed(db: Knex, deadline: Date): Promise<boolean> {
    const { rows } = await db.raw('SELECT now() >= ?::timestamptz AS passed', [deadline]);
    return rows[0].passed;
  },

  /**
   * Ends live bookings as settled, with their booking.ended events, in one statement; the
   * rows it ended (one already ended by someone else is left out, and so is its event).
   */
  async end(db: Knex, outbox: Outbox, endings: Ending[], eventOf: (row: BookingRow) => EventEnvelope): Promise<BookingRow[]> {
    if (!endings.length) return [];
    const values = endings.map(() => '(?, ?, ?, ?::bigint, ?::bigint, ?::timestamptz)').join(', ');
    return outbox.withChange<BookingRow>(db, {
      sql: `UPDATE bookings b SET status = v.status, end_reason = v.reason, charged_micro = v.charged, refund_micro = v.refund, ended_at = v.ended_at
            FROM (VALUES ${values}) v(booking_id, status, reason, charged, refund, ended_at)
            WHERE b.booking_id = v.booking_id AND b.status = 'active'
            RETURNING b.*`,
      bindings: endings.flatMap(({ row, settlement: s }) => [row.booking_id, s.status, s.reason, s.charged, s.refund, s.endedAt]),
      aggregateColumn: 'booking_id',
    }, endings.map(({ row, settlement }) => eventOf(endedRow(row, settlement))));
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

  async lockReservations(trx: Knex, clientId: string): Promise<void> {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [`reservations:${clientId}`]);
  },

  /** The live bookings a client made itself that have not started yet. */
  async reservationsOf(db: Knex, clientId: string): Promise<number> {
    const [{ n }] = await db('bookings').where({ client_id: clientId, booked_by: clientId, status: 'active' }).whereRaw('start_time > now()').count({ n: '*' });
    return Number(n);
  },

  async activeForJob(db: Knex, clientId: string, jobId: string): Promise<BookingRow | undefined> {
    return db<BookingRow>('bookings').where({ client_id: clientId, job_id: jobId, status: 'active' }).first();
  },

  /**
   * The live bookings of the GPU overlapping [start, end), the last to end first (advisory:
   * dry runs and the message of a refused booking; the exclusion constraint decides).
   */
  async overlaps(db: Knex, gpuId: string, start: Date, end: Date): Promise<Overlap[]> {
    // 'active' written in the text, not bound: the plan PostgreSQL keeps for the prepared
    // statement can then use the partial index of live bookings (bound, it planned every run).
    return db('bookings')
      .where({ gpu_id: gpuId })
      .whereRaw("status = 'active' AND tstzrange(start_time, end_time, '[)') && tstzrange(?, ?, '[)')", [start, end])
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

  /** Claims (locks, SKIP LOCKED so replicas share them) live bookings whose end time has passed. */
  async claimDue(trx: Knex, limit: number): Promise<BookingRow[]> {
    return trx<BookingRow>('bookings').where({ status: 'active' }).where('end_time', '<=', trx.fn.now())
      .orderBy('end_time').limit(limit).forUpdate().skipLocked();
  },

  /**
   * Claims reservations whose window has opened and were not checked yet (locked, SKIP
   * LOCKED), each with whether its GPU was offline since before its start, and marks them checked.
   */
  async claimOpenedWindows(trx: Knex, limit: number): Promise<(BookingRow & { gpu_gone: boolean })[]> {
    const { rows } = await trx.raw(
      `WITH due AS (
         SELECT b.booking_id, coalesce(NOT g.online AND g.status_changed_at <= b.start_time, false) AS gpu_gone
         FROM bookings b LEFT JOIN gpus g ON g.gpu_id = b.gpu_id
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
    if (query.minerId) q.where('miner_id', query.minerId);
    if (query.minTotalMicro !== undefined) q.where('total_cost_micro', '>=', query.minTotalMicro);
    if (query.status) q.where('status', query.status);
    if (query.after) q.whereRaw('(created_at, booking_id) < (?::timestamptz, ?)', [query.after.at, query.after.id]);
    return q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'booking_id', order: 'desc' }]).limit(query.limit + 1);
  },
};

export type BookingStore = typeof bookingStore;
