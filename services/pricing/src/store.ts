import { deleteInBatches, type Knex } from '../../../lib/db';

/** A model's stored pricing state (one row per model key). */
export interface ModelRow {
  model_key: string;
  model: string;
  admin_price_micro: number | null;
  base_price_micro: number;
  base_price_source: string;
  utilization: number;
  computed_at: Date;
  multiplier_bp: number;
  current_price_micro: number;
  instant_utilization_bp: number;
  total_gpus: number;
  online_gpus: number;
  booked_gpus: number;
  available_gpus: number;
  recent_bookings: number;
  min_price_micro: number;
  max_price_micro: number;
  average_price_micro: number;
  cheapest_gpu_id: string;
  cheapest_price_micro: number;
  fair_low_micro: number;
  fair_high_micro: number;
  fair_band_bookings: number;
  last_point_price_micro: number | null;
  last_point_at: Date | null;
}

/** Supply of one model, counted from the GPU and booking projection at one moment. */
export interface Supply {
  model_key: string;
  model: string;
  total: number;
  online: number;
  booked: number;
  /** Listed prices of online GPUs, and of all registered ones. */
  online_prices: number[];
  all_prices: number[];
  cheapest_gpu_id: string | null;
  cheapest_price_micro: number | null;
}

/** Demand of one model from its bookings: how many recently, and the prices booked lately. */
export interface Demand {
  model_key: string;
  recent: number;
  prices: number[];
}

export interface PricePointRow {
  model_key: string;
  at: Date;
  price_micro: number;
  base_price_micro: number;
  multiplier_bp: number;
  utilization_bp: number;
  online_gpus: number;
  booked_gpus: number;
}

export interface ProjectedGpu {
  gpu_id: string;
  model_key: string;
  model: string;
  price_micro: number;
  online: boolean;
}

export interface ProjectedBooking {
  booking_id: string;
  gpu_id: string;
  model_key: string;
  price_per_hour_micro: number;
  start_time: Date;
  end_time: Date;
  created_at: Date;
}

const int = (value: unknown) => Number(value ?? 0);

/** Every SQL statement of the pricing service. */
export const pricingStore = {
  // --- projection of registry and booking events ---

  async upsertGpu(db: Knex, gpu: ProjectedGpu): Promise<void> {
    await db('gpus').insert(gpu).onConflict('gpu_id').merge();
  },

  // The writes below return the model they touched, so the caller knows which to reprice
  // without another read.

  async setOnline(db: Knex, gpuId: string, online: boolean): Promise<string | undefined> {
    const [row] = await db('gpus').where({ gpu_id: gpuId }).update({ online }).returning('model_key');
    return row?.model_key;
  },

  async removeGpu(db: Knex, gpuId: string): Promise<string | undefined> {
    const [row] = await db('gpus').where({ gpu_id: gpuId }).delete().returning('model_key');
    return row?.model_key;
  },

  async modelOfGpu(db: Knex, gpuId: string): Promise<string | undefined> {
    const row = await db('gpus').where({ gpu_id: gpuId }).first('model_key');
    return row?.model_key;
  },

  /** Records a booking under its GPU's model (or `fallbackModel` for a GPU not projected). */
  /** One statement, unrun (a consumer runs it with the event's inbox row): returns the booking's model_key. */
  addBooking(db: Knex, booking: Omit<ProjectedBooking, 'model_key'>, fallbackModel: string): Knex.Raw {
    return db.raw(
      `INSERT INTO bookings (booking_id, gpu_id, model_key, price_per_hour_micro, start_time, end_time, created_at)
       VALUES (:booking_id, :gpu_id, COALESCE((SELECT model_key FROM gpus WHERE gpu_id = :gpu_id), :fallbackModel),
         :price_per_hour_micro, :start_time, :end_time, :created_at)
       ON CONFLICT (booking_id) DO UPDATE SET booking_id = EXCLUDED.booking_id RETURNING model_key`,
      { ...booking, fallbackModel },
    );
  },

  /** One statement, unrun: returns the model_key of a booking it ends (none if ended already). */
  endBooking(db: Knex, bookingId: string, at: Date): Knex.QueryBuilder {
    return db('bookings').where({ booking_id: bookingId }).whereNull('ended_at').update({ ended_at: at }).returning('model_key');
  },

  // --- counting supply and demand ---

  /** Supply per model at `now` (one scan of the projection). `keys` narrows it to some models. */
  async supply(db: Knex, now: Date, keys?: string[]): Promise<Supply[]> {
    const { rows } = await db.raw(
      `WITH g AS (
         SELECT g.gpu_id, g.model_key, g.model, g.price_micro, g.online,
           EXISTS (SELECT 1 FROM bookings b WHERE b.gpu_id = g.gpu_id AND b.ended_at IS NULL
                   AND b.start_time <= :now AND b.end_time > :now) AS booked
         FROM gpus g ${keys ? 'WHERE g.model_key = ANY(:keys)' : ''}
       )
       SELECT model_key, min(model) AS model, count(*) AS total, count(*) FILTER (WHERE online) AS online,
         count(*) FILTER (WHERE online AND booked) AS booked,
         coalesce(array_agg(price_micro) FILTER (WHERE online), '{}') AS online_prices,
         array_agg(price_micro) AS all_prices,
         (array_agg(gpu_id ORDER BY price_micro, gpu_id) FILTER (WHERE online AND NOT booked))[1] AS cheapest_gpu_id,
         min(price_micro) FILTER (WHERE online AND NOT booked) AS cheapest_price_micro
       FROM g GROUP BY model_key`,
      { now, keys: keys ?? [] },
    );
    return (rows as Record<string, unknown>[]).map((r) => ({
      model_key: String(r.model_key),
      model: String(r.model),
      total: int(r.total),
      online: int(r.online),
      booked: int(r.booked),
      online_prices: (r.online_prices as string[]).map(Number),
      all_prices: (r.all_prices as string[]).map(Number),
      cheapest_gpu_id: (r.cheapest_gpu_id as string | null) ?? null,
      cheapest_price_micro: r.cheapest_price_micro === null ? null : int(r.cheapest_price_micro),
    }));
  },

  /** Bookings per model created since `recentSince`, and the hourly prices booked since `bandSince`. */
  async demand(db: Knex, recentSince: Date, bandSince: Date, keys?: string[]): Promise<Demand[]> {
    const { rows } = await db.raw(
      `SELECT model_key, count(*) FILTER (WHERE created_at > :recentSince) AS recent,
         array_agg(price_per_hour_micro) AS prices
       FROM bookings WHERE created_at > :bandSince ${keys ? 'AND model_key = ANY(:keys)' : ''}
       GROUP BY model_key`,
      { recentSince, bandSince, keys: keys ?? [] },
    );
    return (rows as Record<string, unknown>[]).map((r) => ({
      model_key: String(r.model_key),
      recent: int(r.recent),
      prices: (r.prices as string[]).map(Number),
    }));
  },

  // --- models and history ---

  /** Locks and returns model rows (all, or the named keys), in key order so lockers never deadlock. */
  async lockModels(db: Knex, keys?: string[]): Promise<ModelRow[]> {
    const q = db<ModelRow>('models').orderBy('model_key').forUpdate();
    if (keys) q.whereIn('model_key', keys);
    return q;
  },

  async getModel(db: Knex, key: string): Promise<ModelRow | undefined> {
    return db<ModelRow>('models').where({ model_key: key }).first();
  },

  async saveModels(db: Knex, rows: ModelRow[]): Promise<void> {
    if (rows.length) await db('models').insert(rows).onConflict('model_key').merge();
  },

  /** The row of a model an admin prices before any GPU of it is registered (the rest: column defaults). */
  async createModel(db: Knex, row: Pick<ModelRow, 'model_key' | 'model' | 'utilization' | 'computed_at' | 'multiplier_bp'>): Promise<ModelRow> {
    const [created] = await db<ModelRow>('models').insert(row).returning('*');
    return created;
  },

  async addPoints(db: Knex, points: PricePointRow[]): Promise<void> {
    if (points.length) await db('price_points').insert(points).onConflict(['model_key', 'at']).merge();
  },

  async history(db: Knex, key: string, from: Date, to: Date, limit: number): Promise<PricePointRow[]> {
    return db<PricePointRow>('price_points')
      .where({ model_key: key })
      .where('at', '>=', from)
      .where('at', '<', to)
      .orderBy('at')
      .limit(limit);
  },

  async pruneHistory(db: Knex, before: Date): Promise<number> {
    return deleteInBatches(db, 'price_points', ['model_key', 'at'], (q) => q.where('at', '<', before));
  },

  /** Forgets finished bookings too old to count in any window. */
  async pruneBookings(db: Knex, before: Date): Promise<number> {
    return deleteInBatches(db, 'bookings', ['booking_id'], (q) => q.whereNotNull('ended_at').where('created_at', '<', before));
  },
};

export type PricingStore = typeof pricingStore;
