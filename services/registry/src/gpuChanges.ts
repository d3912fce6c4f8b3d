import type { Knex } from '../../../lib/db';
import { invalid } from '../../../lib/errors';
import type { ListGpuChangesRequest, ListGpuChangesResponse } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { gpuMessage } from './gpuMessage';
import type { GpuRow } from './store';

const XID = /^\d{1,20}$/;
const ID_MAX = 64;
/** A page stops past about this many bytes, well below gRPC's 4 MB default message limit (a GPU may be 13 KB). */
const PAGE_BYTES = 1_000_000;
export const CHANGES_LIMIT_MAX = 5000;

/**
 * The oldest transaction that may still commit a change here: the snapshot's oldest running
 * one, leaving out those pg_stat_activity shows in another database (they cannot write these
 * tables; an idle one in a reporting database would otherwise hold every pass back to it).
 * The view's function itself, not the view: planning the view's joins doubled a pass's cost.
 * One that ended between the snapshot and that read is not shown anywhere, so it counts.
 * With nothing running (most passes) pg_stat_activity is not read at all.
 */
const WATERMARK = `
  SELECT (CASE WHEN pg_snapshot_xmin(s.snap) = pg_snapshot_xmax(s.snap) THEN pg_snapshot_xmax(s.snap) ELSE LEAST(pg_snapshot_xmax(s.snap), (
    SELECT min(x) FROM pg_snapshot_xip(s.snap) AS x
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(NULL) a WHERE a.backend_xid = x::xid AND a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database()))
  )) END)::text AS watermark
  FROM (SELECT pg_current_snapshot() AS snap) s`;

/**
 * A page of the change feed (migration 010): the GPUs marked after (change, gpu id), each as
 * it is now, and the watermark of this page's snapshot. One statement, so the rows and the
 * watermark come from the same snapshot.
 */
export async function listGpuChanges(db: Knex, req: ListGpuChangesRequest, now: Date): Promise<ListGpuChangesResponse> {
  const change = req.afterChange || '0';
  if (!XID.test(change)) throw invalid('after_change', 'must be a transaction id (decimal)');
  if (req.afterGpuId.length > ID_MAX || !/^[\x21-\x7e]*$/.test(req.afterGpuId)) throw invalid('after_gpu_id', `must be a GPU id (at most ${ID_MAX} printable ASCII characters)`);
  const limit = req.limit === 0 ? 1000 : req.limit;
  if (limit < 1 || limit > CHANGES_LIMIT_MAX) throw invalid('limit', `must be from 1 to ${CHANGES_LIMIT_MAX}`);
  const { rows } = await db.raw(`
    SELECT w.watermark, c.changed_xid::text AS change, c.gpu_id AS change_gpu_id, g.*
    FROM (${WATERMARK}) w
    LEFT JOIN LATERAL (
      SELECT gpu_id, changed_xid FROM gpu_changes WHERE (changed_xid, gpu_id) > (?::xid8, ?)
      ORDER BY changed_xid, gpu_id LIMIT ?
    ) c ON true
    LEFT JOIN gpus g ON g.id = c.gpu_id
    ORDER BY c.changed_xid, c.gpu_id`, [change, req.afterGpuId, limit]);
  const found = (rows as (GpuRow & { watermark: string; change: string | null; change_gpu_id: string })[]).filter((r) => r.change !== null);
  let bytes = 0;
  let cut = found.findIndex((r) => (bytes += sizeOf(r)) > PAGE_BYTES);
  if (cut === 0) cut = 1;
  const page = cut < 0 ? found : found.slice(0, cut);
  return {
    watermark: rows[0].watermark,
    more: page.length < found.length || found.length === limit,
    changes: page.map((r) => {
      const gone = r.id === null || r.deleted_at !== null;
      return {
        change: r.change!,
        gpuId: r.change_gpu_id,
        deleted: gone,
        gpu: gone ? undefined : gpuMessage(r, now),
        online: !gone && r.online,
        bookingStarts: r.booking_starts ?? undefined,
        bookingExpires: r.booking_expires ?? undefined,
        bookingId: '', // deprecated: never sent
        nameKey: gone ? '' : r.model_key,
      };
    }),
  };
}

/** About how many bytes a GPU takes in the answer (its free text dominates). */
function sizeOf(r: GpuRow): number {
  if (r.id === null) return 50;
  return 600 + Buffer.byteLength(r.model) + Buffer.byteLength(r.description ?? '') + (r.capabilities ?? []).reduce((n, c) => n + Buffer.byteLength(c) + 4, 0);
}
