import type { Knex } from '../../../lib/db';
import type { Histogram } from './domain/ratings';

export interface ReviewRow {
  review_id: string;
  gpu_id: string;
  client_id: string;
  booking_id: string;
  rating: number;
  comment: string | null;
  hidden: boolean;
  moderation_reason: string;
  moderated_by: string | null;
  moderated_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface SummaryRow {
  gpu_id: string;
  histogram: Histogram;
  version: number;
}

export interface RatingPointRow {
  at: Date;
  average_rating: string;
  total_reviews: number;
}

const summaryOf = (row: Record<string, unknown>): SummaryRow => ({
  gpu_id: String(row.gpu_id),
  histogram: [row.h1, row.h2, row.h3, row.h4, row.h5].map(Number) as Histogram,
  version: Number(row.version),
});

/** Whether the GPU :gpuId is known (see gpuKnown). */
const KNOWN = `(EXISTS (SELECT 1 FROM known_gpus WHERE gpu_id = :gpuId) OR EXISTS (SELECT 1 FROM renters WHERE gpu_id = :gpuId))`;

/** Every SQL statement of the reviews service. */
export const reviewsStore = {
  // --- projections ---

  knowGpu(db: Knex, gpuId: string, ownerId: string): Knex.QueryBuilder {
    return db('known_gpus').insert({ gpu_id: gpuId, owner_id: ownerId }).onConflict('gpu_id').ignore();
  },

  /**
   * A GPU is known once registered, and stays known after it is unregistered (its history,
   * reviews included, stays); a GPU someone booked is known too, even if its registration
   * event predates this service's data.
   */
  async gpuKnown(db: Knex, gpuId: string): Promise<boolean> {
    const { rows } = await db.raw(`SELECT ${KNOWN} AS known`, { gpuId });
    return rows[0].known;
  },

  addRenter(db: Knex, renter: { gpu_id: string; client_id: string; booking_id: string; booked_at: Date; start_time: Date }): Knex.QueryBuilder {
    return db('renters').insert(renter).onConflict(['gpu_id', 'client_id', 'booking_id']).ignore();
  },

  /** A booking that ended charging nothing: it was never used, and earns no review. */
  markUnused(db: Knex, bookingId: string): Knex.QueryBuilder {
    return db('renters').where({ booking_id: bookingId }).update({ unused: true });
  },

  /** The client's latest booking of the GPU that earns a review (started, not refunded in full), if any. */
  async latestBooking(db: Knex, gpuId: string, clientId: string): Promise<string | undefined> {
    const row = await db('renters').where({ gpu_id: gpuId, client_id: clientId, unused: false })
      .where((w) => w.whereNull('start_time').orWhere('start_time', '<=', db.fn.now()))
      .orderBy('booked_at', 'desc').first('booking_id');
    return row?.booking_id;
  },

  // --- reviews ---

  /** Inserts a review unless the client already reviewed the GPU; undefined then. */
  async insertReview(db: Knex, row: Omit<ReviewRow, 'created_at' | 'updated_at' | 'moderated_by' | 'moderated_at' | 'hidden' | 'moderation_reason'>): Promise<ReviewRow | undefined> {
    const [inserted] = await db<ReviewRow>('reviews').insert(row).onConflict(['gpu_id', 'client_id']).ignore().returning('*');
    return inserted;
  },

  async reviewOf(db: Knex, gpuId: string, clientId: string): Promise<ReviewRow | undefined> {
    return db<ReviewRow>('reviews').where({ gpu_id: gpuId, client_id: clientId }).first();
  },

  async getReview(db: Knex, reviewId: string, lock = false): Promise<ReviewRow | undefined> {
    const q = db<ReviewRow>('reviews').where({ review_id: reviewId }).first();
    return lock ? q.forUpdate() : q;
  },

  async updateReview(db: Knex, reviewId: string, changes: Partial<ReviewRow>): Promise<ReviewRow> {
    const [row] = await db<ReviewRow>('reviews').where({ review_id: reviewId }).update({ ...changes, updated_at: new Date() }).returning('*');
    return row;
  },

  /**
   * What a list of a GPU's reviews needs, in one statement (each round trip costs more than
   * the queries): whether the GPU is known, its summary, and a page of reviews newest first
   * after a (created_at, review_id) position — one row more than `limit`, to tell whether
   * there is a next page.
   */
  async listing(db: Knex, gpuId: string, options: { includeHidden: boolean; limit: number; after?: { at: string; id: string } }): Promise<{
    known: boolean; ownerId?: string; summary?: SummaryRow; rows: ReviewRow[];
  }> {
    const { rows } = await db.raw(
      `SELECT ${KNOWN} AS known,
         (SELECT owner_id FROM known_gpus WHERE gpu_id = :gpuId) AS owner_id,
         (SELECT row_to_json(s) FROM gpu_ratings s WHERE s.gpu_id = :gpuId) AS summary,
         (SELECT coalesce(json_agg(p ORDER BY p.created_at DESC, p.review_id DESC), '[]') FROM (
            SELECT * FROM reviews WHERE gpu_id = :gpuId ${options.includeHidden ? '' : 'AND NOT hidden'}
              ${options.after ? 'AND (created_at, review_id) < (CAST(:afterAt AS timestamptz), :afterId)' : ''}
            ORDER BY created_at DESC, review_id DESC LIMIT :limit) p) AS page`,
      { gpuId, limit: options.limit + 1, afterAt: options.after?.at ?? null, afterId: options.after?.id ?? null },
    );
    const row = rows[0] as { known: boolean; owner_id: string | null; summary: Record<string, unknown> | null; page: Record<string, unknown>[] };
    return {
      known: row.known,
      ownerId: row.owner_id ?? undefined,
      summary: row.summary ? summaryOf(row.summary) : undefined,
      // JSON carries times as text: back to Dates, as every other read returns them.
      rows: row.page.map((r) => ({
        ...(r as unknown as ReviewRow),
        created_at: new Date(String(r.created_at)),
        updated_at: new Date(String(r.updated_at)),
        moderated_at: r.moderated_at ? new Date(String(r.moderated_at)) : null,
      })),
    };
  },

  // --- rating summary and history ---

  async summary(db: Knex, gpuId: string): Promise<SummaryRow | undefined> {
    const row = await db('gpu_ratings').where({ gpu_id: gpuId }).first();
    return row ? summaryOf(row) : undefined;
  },

  /**
   * Moves one rating out of and/or into a GPU's histogram, bumping its version; the row
   * lock this takes orders concurrent changes of one GPU (and so their events).
   */
  async changeSummary(db: Knex, gpuId: string, change: { removed?: number; added?: number }): Promise<SummaryRow> {
    const delta = [1, 2, 3, 4, 5].map((r) => (change.added === r ? 1 : 0) - (change.removed === r ? 1 : 0));
    const set = `h1 = g.h1 + ?, h2 = g.h2 + ?, h3 = g.h3 + ?, h4 = g.h4 + ?, h5 = g.h5 + ?, version = g.version + 1, updated_at = now()`;
    // A removal always finds the row (its rating was added before). An addition may be the
    // GPU's first: insert it. (Not one upsert for both: CHECK (h >= 0) applies to the row
    // an INSERT proposes, before ON CONFLICT turns it into an update.)
    const { rows } = change.removed
      ? await db.raw(`UPDATE gpu_ratings AS g SET ${set} WHERE gpu_id = ? RETURNING *`, [...delta, gpuId])
      : await db.raw(
        `INSERT INTO gpu_ratings AS g (gpu_id, h1, h2, h3, h4, h5, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, now())
         ON CONFLICT (gpu_id) DO UPDATE SET ${set} RETURNING *`,
        [gpuId, ...delta, ...delta],
      );
    return summaryOf(rows[0]);
  },

  async addRatingPoint(db: Knex, point: { gpu_id: string; version: number; at: Date; average_rating: number; total_reviews: number }): Promise<void> {
    await db('rating_history').insert(point);
  },

  async ratingHistory(db: Knex, gpuId: string, limit: number): Promise<RatingPointRow[]> {
    const newest: RatingPointRow[] = await db('rating_history').where({ gpu_id: gpuId }).orderBy('version', 'desc').limit(limit)
      .select('at', 'average_rating', 'total_reviews');
    return newest.reverse();
  },
};

export type ReviewsStore = typeof reviewsStore;
