import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Gpus } from './001_gpus';
import { migration002BookingProjection } from './002_booking_projection';
import { migration003ModelCatalogue } from './003_model_catalogue';
import { migration004RatingProjection } from './004_rating_projection';
import { migration005Offers } from './005_offers';
import { migration006MinerTelemetry } from './006_miner_telemetry';
import { migration007OneGpuPerUuid } from './007_one_gpu_per_uuid';
import { migration008ModelSearch } from './008_model_search';
import { migration009OwnerLists } from './009_owner_lists';
import { migration010GpuChanges } from './010_gpu_changes';

/** The registry schema's migrations, oldest first. Append only. */
export const registryMigrations: Migration[] = [
  migration001Gpus, eventTablesMigration, migration002BookingProjection, migration003ModelCatalogue,
  migration004RatingProjection, migration005Offers, migration006MinerTelemetry, migration007OneGpuPerUuid,
  migration008ModelSearch, migration009OwnerLists, migration010GpuChanges,
];
