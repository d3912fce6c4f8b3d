import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Accounts } from './001_accounts';

/** The accounts schema's migrations, oldest first. Append only. */
export const accountsMigrations: Migration[] = [migration001Accounts, eventTablesMigration];
