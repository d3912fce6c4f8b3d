import type { Knex } from '../../../lib/db';

export interface BidRow {
  bid_id: string;
  client_id: string;
  provider: string;
  capacity: number;
  price_micro: number;
  duration_seconds: number;
  gpu_model: string;
  memory_min: number;
  region: string;
  notes: string;
  status: 'pending' | 'accepted' | 'rejected';
  reason: string;
  booking_ids: string[];
  submitted_at: Date;
  expires_at: Date;
  decided_at: Date | null;
}

/** Where the previous batch of pending bids ended. */
export interface ClaimCursor {
  price_micro: number;
  cursor_at: string;
  bid_id: string;
}

/** The SQL of bids. */
export const bidStore = {
  async insert(db: Knex, bid: Omit<BidRow, 'status' | 'reason' | 'booking_ids' | 'submitted_at' | 'decided_at'>): Promise<BidRow> {
    const [row] = await db<BidRow>('bids').insert(bid).returning('*');
    return row as BidRow;
  },
  async get(db: Knex, bidId: string): Promise<BidRow | undefined> {
    return db<BidRow>('bids').where({ bid_id: bidId }).first();
  },
  async list(db: Knex, q: { clientId?: string; status?: string; provider?: string; limit: number; after?: { at: string; id: string } }): Promise<BidRow[]> {
    const query = db<BidRow>('bids');
    if (q.clientId) query.where('client_id', q.clientId);
    if (q.status) query.where('status', q.status);
    if (q.provider) query.where('provider', q.provider);
    if (q.after) query.whereRaw('(submitted_at, bid_id) < (?::timestamptz, ?)', [q.after.at, q.after.id]);
    return query.orderBy([{ column: 'submitted_at', order: 'desc' }, { column: 'bid_id', order: 'desc' }]).limit(q.limit + 1);
  },
  /** Pending, unexpired bids in the order they are served (highest price, then oldest), locked; SKIP LOCKED: replicas share them. */
  async claimPending(trx: Knex, limit: number, after?: ClaimCursor): Promise<(BidRow & ClaimCursor)[]> {
    const q = trx<BidRow>('bids').select('*', trx.raw('submitted_at::text AS cursor_at'))
      .where({ status: 'pending' }).where('expires_at', '>', trx.fn.now());
    // Keyset over (price desc, submitted_at, bid_id): the text form of submitted_at keeps its microseconds.
    if (after) q.whereRaw('(price_micro < ? OR (price_micro = ? AND (submitted_at, bid_id) > (?::timestamptz, ?)))', [after.price_micro, after.price_micro, after.cursor_at, after.bid_id]);
    return q.orderBy([{ column: 'price_micro', order: 'desc' }, { column: 'submitted_at' }, { column: 'bid_id' }]).limit(limit).forUpdate().skipLocked() as never;
  },
  async accept(trx: Knex, bidId: string, bookingIds: string[]): Promise<BidRow> {
    const [row] = await trx<BidRow>('bids').where({ bid_id: bidId, status: 'pending' })
      .update({ status: 'accepted', booking_ids: bookingIds, reason: '', decided_at: trx.fn.now() } as never).returning('*');
    return row as BidRow;
  },
  /** Rejects a pending bid (waits for a fill in progress to finish); undefined when it is not pending. */
  async reject(db: Knex, bidId: string, reason: string, clientId?: string): Promise<BidRow | undefined> {
    const q = db<BidRow>('bids').where({ bid_id: bidId, status: 'pending' });
    if (clientId) q.where('client_id', clientId);
    const [row] = await q.update({ status: 'rejected', reason, decided_at: db.fn.now() } as never).returning('*');
    return row as BidRow | undefined;
  },
  /** Rejects pending bids past their expiry (skipping those being filled right now). */
  async expire(db: Knex): Promise<BidRow[]> {
    const { rows } = await db.raw(`
      UPDATE bids SET status = 'rejected', reason = 'expired unfilled', decided_at = now()
      WHERE bid_id IN (SELECT bid_id FROM bids WHERE status = 'pending' AND expires_at <= now() FOR UPDATE SKIP LOCKED)
      RETURNING *`);
    return rows;
  },
};

export type BidStore = typeof bidStore;
