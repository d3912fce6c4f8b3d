import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Accounts } from './001_accounts';
import { migration002ExactBalances } from './002_exact_balances';
import { migration003MinerEarnings } from './003_miner_earnings';

/** The accounts schema's migrations, oldest first. Append only. */
export const accountsMigrations: Migration[] = [migration001Accounts, eventTablesMigration, migration002ExactBalances, migration003MinerEarnings];
