import type { Knex } from '../../../lib/db';
import type { ListPlan } from '../../../lib/gpuListQuery';
import type { GpuRow } from './store';

/** The SQL twin of domain/gpuStatus.ts bookedAt(). */
export const BOOKED_NOW = 'COALESCE(booking_expires > now() AND (booking_starts IS NULL OR booking_starts <= now()), false)';

/**
 * Up to this many model names, each name's GPUs are walked on their own and the walks merged
 * (at most this many index probes of limit + 1 rows: bounded, whatever the table's size).
 * Beyond it, the filter is checked on each row along the sort index.
 */
export const MODEL_NAMES_MAX = 1000;

/**
 * One page of GPUs (and one row more, which tells whether there is a next page).
 *
 * Every sort has an index, and the page is read by walking it (keyset: a cursor page costs
 * what page 1 costs). A model filter is resolved first, against the small `gpu_model_counts`
 * table, to the model names it matches that have a GPU with enough memory (`memory_min`);
 * then each name's GPUs are walked in its own index (model, sort column, id) and the walks
 * merged. Without that, a filter matching few GPUs would walk the whole sort index past every
 * other model. Each walk still checks the filter itself, so the answer is exactly the rule's.
 */
export async function listGpus(db: Knex, plan: ListPlan): Promise<GpuRow[]> {
  if (!plan.model) return filtered(db('gpus'), plan);
  const names = await modelNames(db, plan);
  if (names.length === 0) return [];
  const matching = (q: Knex.QueryBuilder) => filtered(q.where((b) => matchModel(b, plan)), plan);
  if (names.length === 1) return matching(db('gpus').where('model', names[0]));
  // Not `model = ANY(names)`: PostgreSQL would walk the sort index past every other model's
  // GPUs (a provider listing 64 GPUs named after every popular model made "4090" lists 20× slower).
  if (names.length > MODEL_NAMES_MAX) return matching(db('gpus'));
  const { column, descending } = plan.sort;
  const order = descending ? 'desc' : 'asc';
  return db
    .select('g.*')
    .from(db.raw('unnest(?::text[]) AS m(name)', [names]))
    .crossJoin(db.raw('LATERAL (?) AS g', [matching(db('gpus').whereRaw('model = m.name'))]))
    .orderBy([{ column: `g.${column}`, order }, { column: 'g.id', order }])
    .limit(plan.limit + 1);
}

/** The model names a filter matches among live GPUs with enough memory (at most MODEL_NAMES_MAX + 1). */
async function modelNames(db: Knex, plan: ListPlan): Promise<string[]> {
  const q = db('gpu_model_counts').where('gpus', '>', 0).where((b) => matchModel(b, plan));
  if (plan.memoryMin !== undefined) q.where('memory_gb', '>=', plan.memoryMin);
  const rows: { model: string }[] = await q.distinct('model').orderBy('model').limit(MODEL_NAMES_MAX + 1);
  return rows.map((r) => r.model);
}

/** The model filter on a row of `gpus` or `gpu_model_counts` (both have the name and its two keys). */
function matchModel(b: Knex.QueryBuilder, plan: ListPlan): void {
  const { namePattern, keyPattern, catalogKey } = plan.model!;
  b.whereRaw('model ILIKE ?', [namePattern]);
  if (keyPattern) b.orWhereRaw('model_key LIKE ?', [keyPattern]);
  if (catalogKey) b.orWhere('catalog_key', catalogKey);
}

/** Every filter but the model's, the cursor, the order and the limit. */
function filtered(q: Knex.QueryBuilder, plan: ListPlan): Knex.QueryBuilder {
  q.whereNull('deleted_at');
  switch (plan.status) {
    case 'available':
      q.where('online', true).whereRaw(`NOT ${BOOKED_NOW}`);
      break;
    case 'booked':
      q.where('online', true).whereRaw(BOOKED_NOW);
      break;
    case 'offline':
      q.where('online', false);
      break;
    case undefined:
      break;
    default: {
      const never: never = plan.status;
      throw new Error(`unknown status ${String(never)}`);
    }
  }
  if (plan.memoryMin !== undefined) q.where('memory_gb', '>=', plan.memoryMin);
  if (plan.priceMin !== undefined) q.where('price_micro', '>=', plan.priceMin);
  if (plan.priceMax !== undefined) q.where('price_micro', '<=', plan.priceMax);
  if (plan.region) q.whereRaw('lower(region) = lower(?)', [plan.region]);
  if (plan.minerId) q.where('miner_id', plan.minerId);
  if (plan.ownerId) q.where('owner_id', plan.ownerId);
  if (plan.minRating !== undefined) q.where('average_rating', '>=', plan.minRating);
  const { column, descending } = plan.sort;
  if (plan.after) {
    const cast = column === 'created_at' ? 'timestamptz' : column === 'average_rating' ? 'numeric' : 'bigint';
    q.whereRaw(`(??, id) ${descending ? '<' : '>'} (?::${cast}, ?)`, [column, plan.after.value, plan.after.id]);
  }
  const order = descending ? 'desc' : 'asc';
  return q.orderBy([{ column, order }, { column: 'id', order }]).limit(plan.limit + 1);
}
