import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Market } from './001_market';
import { migration002OfferTerms } from './002_offer_terms';

/** The market schema's migrations, oldest first. Append only. */
export const marketMigrations: Migration[] = [migration001Market, eventTablesMigration, migration002OfferTerms];
