import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Bookings } from './001_bookings';
import { migration002OneLiveBookingPerJob } from './002_one_live_booking_per_job';
import { migration003GpuSnapshot } from './003_gpu_snapshot';
import { migration004BookedBy } from './004_booked_by';
import { migration005OneEndTime } from './005_one_end_time';
import { migration006OfferTerms } from './006_offer_terms';
import { migration007MinerJobs } from './007_miner_jobs';
import { migration008UsedTimeNeverOverlaps } from './008_used_time_never_overlaps';
import { migration009ClientReservations } from './009_client_reservations';

/** The booking schema's migrations, oldest first. Append only. */
export const bookingMigrations: Migration[] = [
  migration001Bookings, eventTablesMigration, migration002OneLiveBookingPerJob, migration003GpuSnapshot, migration004BookedBy, migration005OneEndTime, migration006OfferTerms,
  migration007MinerJobs, migration008UsedTimeNeverOverlaps, migration009ClientReservations,
];
