import type { Knex } from '../../../lib/db';
import { invalid } from '../../../lib/errors';
import type { ListGpuChangesRequest, ListGpuChangesResponse } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { gpuMessage } from './gpuMessage';
import type { GpuRow } from './store';

const XID = /^\d{1,20}$/;
const ID_MAX = 64;
export const CHANGES_LIMIT_MAX = 5000;

/**
 * A page of the change feed (migration 010): the GPUs marked after (change, gpu id), each as
 * it is now, and the watermark of this page's snapshot. One statement, so the rows and the
 * watermark come from the same snapshot.
 */
export async function listGpuChanges(db: Knex, req: ListGpuChangesRequest, now: Date): Promise<ListGpuChangesResponse> {
  const change = req.afterChange || '0';
  if (!XID.test(change)) throw invalid('after_change', 'must be a transaction id (decimal)');
  if (req.afterGpuId.length > ID_MAX) throw invalid('after_gpu_id', `must be at most ${ID_MAX} characters`);
  const limit = req.limit === 0 ? 1000 : req.limit;
  if (limit < 1 || limit > CHANGES_LIMIT_MAX) throw invalid('limit', `must be from 1 to ${CHANGES_LIMIT_MAX}`);
  const { rows } = await db.raw(`
    SELECT w.watermark, c.changed_xid::text AS change, c.gpu_id AS change_gpu_id, g.*
    FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS watermark) w
    LEFT JOIN LATERAL (
      SELECT gpu_id, changed_xid FROM gpu_changes WHERE (changed_xid, gpu_id) > (?::xid8, ?)
      ORDER BY changed_xid, gpu_id LIMIT ?
    ) c ON true
    LEFT JOIN gpus g ON g.id = c.gpu_id
    ORDER BY c.changed_xid, c.gpu_id`, [change, req.afterGpuId, limit]);
  const found = (rows as (GpuRow & { watermark: string; change: string | null; change_gpu_id: string })[]).filter((r) => r.change !== null);
  return {
    watermark: rows[0].watermark,
    changes: found.map((r) => {
      const gone = r.id === null || r.deleted_at !== null;
      return {
        change: r.change!,
        gpuId: r.change_gpu_id,
        deleted: gone,
        gpu: gone ? undefined : gpuMessage(r, now),
        online: !gone && r.online,
        bookingStarts: r.booking_starts ?? undefined,
        bookingExpires: r.booking_expires ?? undefined,
        bookingId: r.current_booking_id ?? '',
        nameKey: gone ? '' : r.model_key,
      };
    }),
  };
}
