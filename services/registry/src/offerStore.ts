import type { Knex } from '../../../lib/db';
import { newId } from '../../../lib/ids';
import type { OfferTerms } from './domain/offerTerms';
import type { GpuRow } from './store';

const LIVE = 'deleted_at IS NULL';

export interface OfferQuery {
  /** open (includes reserved), reserved, closed, all */
  status: 'open' | 'reserved' | 'closed' | 'all';
  modelPattern?: string;
  priceMaxMicro?: number;
  memoryMin?: number;
  region?: string;
  ownerId?: string;
  limit: number;
}

/** The registry's SQL for offers (columns of the GPU's row). */
export const offerStore = {
  /** Sets a GPU's offer: a new offer id when it had none open, the same one when it changes. */
  async publish(db: Knex, gpuId: string, terms: OfferTerms): Promise<{ row: GpuRow; created: boolean } | undefined> {
    const { rows } = await db.raw(
      `UPDATE gpus SET
         offer_id = CASE WHEN offer_status = 'open' THEN offer_id ELSE ? END,
         offer_created_at = CASE WHEN offer_status = 'open' THEN offer_created_at ELSE now() END,
         offer_price_micro = ?, offer_min_hours = ?, offer_max_hours = ?, offer_models = ?, offer_status = ?, updated_at = now()
       WHERE id = ? AND ${LIVE}
       RETURNING gpus.*, (offer_created_at = now()) AS created`,
      [newId('ofr'), terms.priceMicro, terms.minHours, terms.maxHours, terms.models, terms.status, gpuId],
    );
    return rows[0] && { row: rows[0], created: rows[0].created };
  },

  /** GPUs with offers, cheapest offer first. */
  async list(db: Knex, q: OfferQuery): Promise<GpuRow[]> {
    const query = db<GpuRow>('gpus').whereRaw(LIVE).whereNotNull('offer_id');
    const bookedNow = 'COALESCE(booking_expires > now() AND (booking_starts IS NULL OR booking_starts <= now()), false)';
    if (q.status === 'open') query.where('offer_status', 'open');
    if (q.status === 'reserved') query.where('offer_status', 'open').whereRaw(bookedNow);
    if (q.status === 'closed') query.where('offer_status', 'closed');
    if (q.modelPattern) query.whereILike('model', q.modelPattern);
    if (q.priceMaxMicro !== undefined) query.where('offer_price_micro', '<=', q.priceMaxMicro);
    if (q.memoryMin !== undefined) query.where('memory_gb', '>=', q.memoryMin);
    if (q.region) query.where('region', q.region);
    if (q.ownerId) query.where('owner_id', q.ownerId);
    return query.orderBy([{ column: 'offer_price_micro' }, { column: 'id' }]).limit(q.limit);
  },

  /** Opens an offer at its listed price for every online GPU that has none; the rows it opened. */
  async sync(db: Knex): Promise<GpuRow[]> {
    const { rows } = await db.raw(
      `UPDATE gpus SET offer_id = 'ofr_' || substr(md5(random()::text || id), 1, 20), offer_price_micro = price_micro,
         offer_min_hours = 1, offer_max_hours = 24, offer_models = '{}', offer_status = 'open', offer_created_at = now(), updated_at = now()
       WHERE ${LIVE} AND online AND offer_id IS NULL
       RETURNING *`,
    );
    return rows;
  },
};

export type OfferStore = typeof offerStore;
