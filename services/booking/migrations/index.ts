import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Bookings } from './001_bookings';

/** The booking schema's migrations, oldest first. Append only. */
export const bookingMigrations: Migration[] = [migration001Bookings, eventTablesMigration];
