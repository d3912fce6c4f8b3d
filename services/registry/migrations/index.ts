import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Gpus } from './001_gpus';
import { migration003BookingProjection } from './003_booking_projection';

/** The registry schema's migrations, oldest first. Append only. */
export const registryMigrations: Migration[] = [migration001Gpus, eventTablesMigration, migration003BookingProjection];
