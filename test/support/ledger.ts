import type { Knex } from '../../lib/db';

/**
 * The ledger's invariants, read straight from the accounts schema: the journal sums to zero
 * (per transaction and in all), no balance of a non-system account is negative, every
 * account's balances equal the sums of its entries, and every settled hold is exactly what
 * its booking charged and refunded. Returns the problems found (none: []).
 */
export async function ledgerProblems(db: Knex): Promise<string[]> {
  const problems: string[] = [];
  const q = async (sql: string) => (await db.raw(sql)).rows as Record<string, unknown>[];
  for (const r of await q('SELECT tx_id, sum(amount_micro) AS s FROM accounts.ledger_entries GROUP BY tx_id HAVING sum(amount_micro) <> 0')) {
    problems.push(`transaction ${r.tx_id} sums to ${r.s}`);
  }
  const [total] = await q('SELECT coalesce(sum(amount_micro), 0) AS s FROM accounts.ledger_entries');
  if (Number(total.s) !== 0) problems.push(`the journal sums to ${total.s}`);
  for (const r of await q(`SELECT account_id FROM accounts.balances WHERE account_id <> 'world' AND (available_micro < 0 OR held_micro < 0 OR earnings_micro < 0)`)) {
    problems.push(`account ${r.account_id} is below zero`);
  }
  for (const r of await q(`
    SELECT b.account_id, b.available_micro, b.held_micro, b.earnings_micro, coalesce(e.available, 0) AS ea, coalesce(e.held, 0) AS eh, coalesce(e.earnings, 0) AS ee
    FROM accounts.balances b LEFT JOIN (
      SELECT account_id, sum(amount_micro) FILTER (WHERE bucket = 'available') AS available, sum(amount_micro) FILTER (WHERE bucket = 'held') AS held,
        sum(amount_micro) FILTER (WHERE bucket = 'earnings') AS earnings FROM accounts.ledger_entries GROUP BY account_id
    ) e USING (account_id)
    WHERE b.available_micro <> coalesce(e.available, 0) OR b.held_micro <> coalesce(e.held, 0) OR b.earnings_micro <> coalesce(e.earnings, 0)`)) {
    problems.push(`account ${r.account_id}: balances ${r.available_micro}/${r.held_micro}/${r.earnings_micro}, entries ${r.ea}/${r.eh}/${r.ee}`);
  }
  // Holds against bookings: both schemas live in one test database.
  for (const r of await q(`
    SELECT h.booking_id, h.status, h.amount_micro, b.status AS booking_status, b.charged_micro, b.refund_micro, b.total_cost_micro
    FROM accounts.holds h FULL JOIN booking.bookings b ON b.booking_id = h.booking_id
    WHERE h.booking_id IS NULL OR b.booking_id IS NULL AND h.status <> 'released'
       OR b.booking_id IS NOT NULL AND (h.status = 'released' OR h.amount_micro <> b.total_cost_micro
         OR (h.status = 'settled') <> (b.status <> 'active')
         OR (h.status = 'settled' AND b.charged_micro + b.refund_micro <> h.amount_micro))`)) {
    problems.push(`booking ${r.booking_id}: hold ${r.status ?? 'missing'} ${r.amount_micro ?? ''}, booking ${r.booking_status ?? 'missing'} ${r.charged_micro ?? ''}+${r.refund_micro ?? ''}`);
  }
  // Each settled booking's charge reached its owner once: one settle transaction per booking.
  for (const r of await q(`SELECT booking_id, count(*) AS n FROM accounts.ledger_transactions WHERE kind IN ('hold', 'settle', 'release') GROUP BY booking_id, kind HAVING count(*) > 1`)) {
    problems.push(`booking ${r.booking_id} moved money ${r.n} times for one step`);
  }
  return problems;
}
