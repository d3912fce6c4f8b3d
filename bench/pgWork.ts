import { connectDb } from '../lib/db';

/**
 * What PostgreSQL did in one database, read from its statistics views: transactions committed
 * and rolled back, and rows written per schema (inserts, updates, deletes). Backends report
 * their counts at most once a second, so a reading waits that long first.
 */
export async function pgWork(url: string): Promise<Record<string, number>> {
  await new Promise((r) => setTimeout(r, 1100));
  const db = connectDb({ url, schema: 'public', poolMax: 1 });
  try {
    const { rows: [tx] } = await db.raw('SELECT xact_commit AS commits, xact_rollback AS rollbacks FROM pg_stat_database WHERE datname = current_database()');
    const { rows } = await db.raw(`SELECT schemaname AS schema, sum(n_tup_ins + n_tup_upd + n_tup_del)::bigint AS rows
      FROM pg_stat_user_tables GROUP BY schemaname`);
    const out: Record<string, number> = { transactions: Number(tx.commits), rollbacks: Number(tx.rollbacks) };
    for (const r of rows as { schema: string; rows: string }[]) out[`rows_${r.schema}`] = Number(r.rows);
    return out;
  } finally {
    await db.destroy();
  }
}
