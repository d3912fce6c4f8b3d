import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Reviews } from './001_reviews';
import { migration002RentersWhoUsed } from './002_renters_who_used';

/** The reviews schema's migrations, oldest first. Append only. */
export const reviewsMigrations: Migration[] = [migration001Reviews, eventTablesMigration, migration002RentersWhoUsed];
