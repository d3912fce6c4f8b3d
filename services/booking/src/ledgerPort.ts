import { DomainError } from '../../../lib/errors';
import type { AccountsServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/accounts';
import type { AsyncClient } from '../../../lib/grpcClient';
import type { Logger } from '../../../lib/logger';
import type { BookingRow } from './store';

/**
 * How booking pays: a hold on the client's balance before the booking is inserted, given
 * back if the insert does not happen. The accounts service settles the hold from the
 * booking.ended event, and gives back, after the deadline, any hold whose booking never
 * appeared (a crash between the two steps).
 */
export interface LedgerPort {
  /**
   * Holds the booking's total; the moment by which the booking must be inserted (undefined:
   * no ledger). `disclose`: the caller is the client, who may learn its balance from a refusal.
   */
  hold(row: BookingRow, disclose: boolean): Promise<Date | undefined>;
  /** The booking was not made: its hold back at once (best effort; the reconciler is the safety net). */
  giveBack(bookingId: string): Promise<void>;
}

/** No ledger (measurements only): bookings are not paid for. */
export const noLedger: LedgerPort = { hold: async () => undefined, giveBack: async () => undefined };

export function accountsLedger(client: AsyncClient<AccountsServiceClient>, logger: Logger): LedgerPort {
  return {
    async hold(row, disclose) {
      try {
        const { deadline } = await client.placeHold({
          caller: undefined, bookingId: row.booking_id, clientId: row.client_id, ownerId: row.owner_id, amountMicro: row.total_cost_micro,
          gpuId: row.gpu_id, minerId: row.miner_id,
        });
        return deadline;
      } catch (err) {
        // No way to know whether it was held: the reconciler gives back a hold without a booking.
        if (err instanceof DomainError && err.code === 'DEADLINE_EXCEEDED') {
          throw new DomainError('UNAVAILABLE', 'the accounts service did not answer in time; nothing was booked, retry shortly');
        }
        // Someone booking for a client (the coordinator, the market) learns that it cannot pay,
        // not how much it has.
        if (!disclose && err instanceof DomainError && err.details?.reason === 'insufficient_funds') {
          throw new DomainError('FAILED_PRECONDITION', `account ${row.client_id} cannot pay for this booking`, err.field, { reason: 'insufficient_funds' });
        }
        throw err;
      }
    },
    async giveBack(bookingId) {
      await client.releaseHold({ caller: undefined, bookingId }).catch((err: unknown) =>
        logger.warn({ err: (err as Error).message, bookingId }, 'could not give a hold back at once; the accounts service will after its deadline'));
    },
  };
}
