import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Pricing } from './001_pricing';

/** The pricing schema's migrations, oldest first. Append only. */
export const pricingMigrations: Migration[] = [migration001Pricing, eventTablesMigration];
