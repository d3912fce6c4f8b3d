import { type EventEnvelope, newEvent } from '../../../lib/events/envelope';
import { bookingMessage } from './bookingMessage';
import type { BookingRow } from './store';

const SOURCE = 'booking';

export const bookingCreated = (row: BookingRow): EventEnvelope =>
  newEvent('booking.created', SOURCE, row.booking_id, { booking: bookingMessage(row) });

export const bookingConfirmed = (row: BookingRow): EventEnvelope =>
  newEvent('booking.confirmed', SOURCE, row.booking_id, { booking: bookingMessage(row) });

export const bookingEnded = (row: BookingRow): EventEnvelope =>
  newEvent('booking.ended', SOURCE, row.booking_id, { booking: bookingMessage(row), reason: row.end_reason ?? '' });
