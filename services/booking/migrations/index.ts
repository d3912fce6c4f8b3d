import type { Migration } from '../../../lib/db';
import { eventTablesMigration } from '../../../lib/events/eventTables';
import { migration001Bookings } from './001_bookings';
import { migration002OneLiveBookingPerJob } from './002_one_live_booking_per_job';
import { migration003ReservationWindows } from './003_reservation_windows';
import { migration004BookedBy } from './004_booked_by';

/** The booking schema's migrations, oldest first. Append only. */
export const bookingMigrations: Migration[] = [migration001Bookings, eventTablesMigration, migration002OneLiveBookingPerJob, migration003ReservationWindows, migration004BookedBy];
