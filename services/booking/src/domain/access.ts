import { type Caller, Role } from '../../../../lib/caller';

/** The parties of a booking, as access rules need them. */
export interface BookingParties {
  client_id: string;
  owner_id: string;
  booked_by: string | null;
}

/**
 * Who may act on a booking (confirm, release, end): its client, admins, and the service that
 * made it (a coordinator acts on its own jobs' bookings, not on every client's). Bookings
 * made before services were recorded (booked_by null) are any service's.
 */
export function mayActOn(booking: BookingParties, caller: Caller): boolean {
  if (caller.role === Role.ROLE_ADMIN) return true;
  if (caller.role === Role.ROLE_SERVICE) return booking.booked_by === null || booking.booked_by === caller.accountId;
  return booking.client_id === caller.accountId;
}

/**
 * Who may see a booking: those who may act on it, the GPU's owner, and the services that
 * keep the books (`ledger`: the accounts service checks that a held booking exists).
 */
export function maySee(booking: BookingParties, caller: Caller, ledger: ReadonlySet<string> = NONE): boolean {
  return mayActOn(booking, caller) || booking.owner_id === caller.accountId
    || (caller.role === Role.ROLE_SERVICE && ledger.has(caller.accountId));
}

const NONE: ReadonlySet<string> = new Set();
