import type { Knex, Migration } from '../../../lib/db';

/**
 * Every balance stays an exact JavaScript integer (|x| < 2^53 micro, about 9 billion AITBC):
 * amounts cross the mesh as numbers, and one past 2^53 would be rounded somewhere. A
 * transaction that would pass it fails whole (check_violation on `balances_exact`).
 */
export const migration002ExactBalances: Migration = {
  name: '002_exact_balances',
  async up(db: Knex) {
    await db.raw(`
      ALTER TABLE balances ADD CONSTRAINT balances_exact CHECK (
        abs(available_micro) <= 9007199254740991 AND held_micro <= 9007199254740991 AND earnings_micro <= 9007199254740991
      )
    `);
  },
};
