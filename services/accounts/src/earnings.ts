import type { Caller } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { invalid } from '../../../lib/errors';
import type { MinerEarningsRequest, MinerEarningsResponse } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import { isMinerId } from '../../../lib/gpuLimits';
import { type EarningsLine, summarizeEarnings } from './domain/earnings';
import { PLATFORM } from './domain/ledger';

/**
 * What one of the caller's miners earned in a window, read from the ledger: the owner's
 * earnings entries (charges and payments, net of the fee) and the platform's fee entries of the
 * bookings on the miner's GPUs (holds name them), by booking and UTC day in one statement.
 */
export function createEarnings(db: Knex) {
  return async function minerEarnings(caller: Caller, req: MinerEarningsRequest): Promise<MinerEarningsResponse> {
    if (!isMinerId(req.minerId)) throw invalid('miner_id', 'must be 1-64 letters, digits, ".", "_" or "-"');
    const from = req.fromTime ?? new Date(0);
    const to = req.toTime ?? new Date();
    if (from >= to) throw invalid('from_time', 'must be before to_time');
    const { rows } = await db.raw(
      `SELECT e.booking_id, h.gpu_id, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
         COALESCE(sum(e.amount_micro) FILTER (WHERE e.account_id = h.owner_id), 0) AS net_micro,
         COALESCE(sum(e.amount_micro) FILTER (WHERE e.account_id = :platform), 0) AS fee_micro,
         max(e.created_at) AS earned_at
       FROM holds h JOIN ledger_entries e ON e.booking_id = h.booking_id
       WHERE h.owner_id = :owner AND h.miner_id = :miner AND e.bucket = 'earnings'
         AND ((e.account_id = h.owner_id AND e.kind IN ('charge', 'payment')) OR (e.account_id = :platform AND e.kind = 'fee'))
         AND e.created_at >= :from AND e.created_at < :to
       GROUP BY e.booking_id, h.gpu_id, day`,
      { platform: PLATFORM, owner: caller.accountId, miner: req.minerId, from, to },
    );
    return summarizeEarnings((rows as (EarningsLine & { net_micro: string | number; fee_micro: string | number })[])
      .map((r) => ({ ...r, net_micro: Number(r.net_micro), fee_micro: Number(r.fee_micro) })));
  };
}
