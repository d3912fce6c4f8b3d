import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Reviews } from './001_reviews';

/** The reviews schema's migrations, oldest first. Append only. */
export const reviewsMigrations: Migration[] = [migration001Reviews, eventTablesMigration];
