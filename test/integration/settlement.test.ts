import assert from 'node:assert/strict';
import { parseKeyList } from '../../lib/apiKeys';
import { openDb, type Knex } from '../../lib/db';
import { EventEnvelope, newEvent } from '../../lib/events/envelope';
import { createMemoryBus } from '../../lib/events/memoryBus';
import { createOutbox } from '../../lib/events/outbox';
import { Booking } from '../../lib/gen/aitbc/marketplace/v1/booking';
import { newId } from '../../lib/ids';
import { createLogger } from '../../lib/logger';
import { accountsMigrations } from '../../services/accounts/migrations';
import { accountsStore } from '../../services/accounts/src/accountsStore';
import { createBookingSettlement } from '../../services/accounts/src/bookingSettlement';
import { createLedger } from '../../services/accounts/src/ledger';
import { ledgerStore } from '../../services/accounts/src/ledgerStore';
import { seedAccounts } from '../../services/accounts/src/seed';
import { waitFor } from '../support/events';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';

const silent = createLogger('test', 'silent');
const OPENING = 100_000_000;

/**
 * The settlement consumer on PostgreSQL: the usual booking.ended is one statement with its
 * inbox row (no transaction), a redelivery changes nothing, and a hold the event does not
 * describe (another amount) is settled the long way, in a transaction; money is conserved.
 */
describe('booking settlement in one statement (accounts, PostgreSQL)', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let db: Knex;
  const bus = createMemoryBus();
  let ledger: ReturnType<typeof createLedger>;
  let settlement: ReturnType<typeof createBookingSettlement>;
  const sum = async (sql: string, bindings: unknown[] = []) => Number((await db.raw(sql, bindings as never)).rows[0].s);
  const ended = (bookingId: string, charged: number, refund: number, clientId = 'alice') => {
    const booking = Booking.fromPartial({ bookingId, clientId, ownerId: 'acme', gpuId: 'gpu_1', chargedMicro: charged, refundMicro: refund });
    const envelope = newEvent('booking.ended', 'booking', bookingId, { booking, reason: 'released' });
    return (msgId = envelope.eventId) => ({ id: msgId, subject: bus.subject('booking.ended'), aggregateId: bookingId, data: EventEnvelope.encode(envelope).finish() });
  };
  const hold = (bookingId: string, amount: number) => ledger.placeHold({ bookingId, clientId: 'alice', ownerId: 'acme', amount, gpuId: 'gpu_1', minerId: 'm' });

  before(async () => {
    database = await createTestDatabase();
    db = await openDb({ url: database.url, schema: 'accounts', migrations: accountsMigrations });
    const outbox = createOutbox();
    ledger = createLedger({ db, store: ledgerStore, accounts: accountsStore, outbox, feeBp: 500, holdDeadlineMs: 60_000 });
    await seedAccounts({ db, accounts: accountsStore, ledger, outbox, logger: silent },
      parseKeyList('client:alice:alice-key-0000000000000000,provider:acme:acme-key-00000000000000000'), OPENING);
    settlement = createBookingSettlement({ db, bus, logger: silent, ledger });
    await settlement.start();
  });
  after(async () => {
    await settlement?.stop();
    await db?.destroy();
    await database?.drop();
  });

  it('settles the usual hold in one statement, once however often the event comes, conserving money', async () => {
    const [a, b] = [newId('bkg'), newId('bkg')];
    await hold(a, 3_000_000);
    await hold(b, 2_000_000);
    const queries: string[] = [];
    const listener = (q: { sql: string }) => void queries.push(q.sql);
    db.on('query', listener);
    const eventA = ended(a, 1_000_000, 2_000_000);
    await bus.publish([eventA()]);
    await waitFor(() => settlement.applied() === 1, 10_000, 'the settlement');
    db.off('query', listener);
    assert.ok(!queries.some((q) => /^begin/i.test(q)), `no transaction: ${queries.join(' | ')}`);
    assert.equal(queries.filter((q) => q.includes('inbox_claim')).length, 1, 'the hold, entries, balances, event and inbox row in one statement');

    // Redelivered twice (new message ids: past NATS's duplicate window), and an event that does
    // not say whose hold it is (as older ones did: the long way): 2 applied, nothing twice.
    const eventB = ended(b, 500_000, 1_500_000, '');
    await bus.publish([eventA('again-1'), eventA('again-2'), eventB()]);
    await waitFor(() => settlement.applied() === 2, 10_000, 'the second settlement');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settlement.applied(), 2);

    const holds = await db('holds').whereIn('booking_id', [a, b]).orderBy('amount_micro', 'desc');
    assert.deepEqual(holds.map((h) => h.status), ['settled', 'settled']);
    assert.equal(await sum(`SELECT count(*) AS s FROM ledger_transactions WHERE kind = 'settle' AND booking_id = ANY(?)`, [[a, b]]), 2);
    assert.equal(await sum('SELECT count(*) AS s FROM inbox WHERE consumer = ?', ['accounts-booking-settlement']), 2);
    // Conserved: the journal sums to zero, every balance is its entries, and the client paid
    // exactly the two charges (1 and 0.5), the owner earning them less the 5% fee.
    assert.equal(await sum('SELECT coalesce(sum(amount_micro), 0) AS s FROM ledger_entries'), 0);
    assert.equal(await sum(`SELECT count(*) AS s FROM balances b WHERE available_micro + held_micro + earnings_micro <>
      (SELECT coalesce(sum(amount_micro), 0) FROM ledger_entries e WHERE e.account_id = b.account_id)`), 0);
    const alice = await db('balances').where({ account_id: 'alice' }).first();
    assert.equal(alice.available_micro, OPENING - 1_500_000);
    assert.equal(alice.held_micro, 0);
    const acme = await db('balances').where({ account_id: 'acme' }).first();
    assert.equal(acme.earnings_micro, 1_425_000);
  });
});
