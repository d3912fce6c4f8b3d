import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mayActOn, maySee } from '../../services/booking/src/domain/access';
import { planBooking, requireJobFields } from '../../services/booking/src/domain/bookingRequest';
import { type EndCause, endBooking } from '../../services/booking/src/domain/lifecycle';
import { Role } from '../../lib/caller';

const T0 = new Date('2026-12-02T10:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
/** An hour at 3.6 AITBC: 1,000 micro a second, made a minute before it starts. */
const booking = { start_time: T0, end_time: at(3600), duration_seconds: 3600, total_cost_micro: 3_600_000, created_at: at(-60) };

describe('booking lifecycle (pure)', () => {
  it('settles every way a booking ends', () => {
    const cases: [EndCause, Date, { status: string; reason: string; charged: number; endedAt: Date }][] = [
      ['released', at(90.2), { status: 'released', reason: 'released', charged: 91_000, endedAt: at(90.2) }],
      ['job_completed', at(10), { status: 'released', reason: 'job_completed', charged: 10_000, endedAt: at(10) }],
      ['job_failed', at(10), { status: 'released', reason: 'job_failed', charged: 10_000, endedAt: at(10) }],
      ['job_failed_miner', at(10), { status: 'cancelled', reason: 'job_failed_miner', charged: 0, endedAt: at(10) }],
      ['expired', at(3600.4), { status: 'completed', reason: 'expired', charged: 3_600_000, endedAt: at(3600) }],
      ['gpu_offline', at(30), { status: 'cancelled', reason: 'gpu_offline', charged: 30_000, endedAt: at(30) }],
      ['unregistered', at(30), { status: 'cancelled', reason: 'cancelled', charged: 30_000, endedAt: at(30) }],
      ['never_started', at(5), { status: 'cancelled', reason: 'gpu_offline', charged: 0, endedAt: T0 }],
    ];
    for (const [cause, when, expected] of cases) {
      const s = endBooking(booking, cause, when);
      assert.deepEqual({ status: s.status, reason: s.reason, charged: s.charged, endedAt: s.endedAt }, expected, cause);
      assert.equal(s.charged + s.refund, booking.total_cost_micro, cause);
    }
  });

  it('charges nothing for a booking that had not started, and never ends one before it was made', () => {
    // Released ahead of its start: nothing used.
    assert.equal(endBooking(booking, 'released', at(-30)).charged, 0);
    // The GPU went away before a reservation began: ended as it would have started (or now, if sooner), fully refunded.
    const offline = endBooking(booking, 'gpu_offline', at(-30), at(-10));
    assert.deepEqual([offline.charged, offline.endedAt], [0, at(-10)]);
    assert.deepEqual(endBooking(booking, 'unregistered', at(-30), at(100)).endedAt, T0);
    // The event says it went away before the booking was even made (a stale read): ended when it was made.
    const stale = endBooking({ ...booking, start_time: at(-60) }, 'gpu_offline', at(-90), at(0));
    assert.deepEqual([stale.charged, stale.endedAt], [0, booking.created_at]);
  });

  it('conserves money for any end at any moment (property)', () => {
    const causes: EndCause[] = ['released', 'expired', 'job_completed', 'job_failed', 'job_failed_miner', 'gpu_offline', 'unregistered', 'never_started'];
    fc.assert(fc.property(
      fc.constantFrom(...causes), fc.integer({ min: 1, max: 2_592_000 }), fc.integer({ min: 0, max: 10 ** 12 }), fc.integer({ min: -10_000, max: 3_000_000 }),
      (cause, duration, total, offset) => {
        const b = { ...booking, duration_seconds: duration, end_time: at(duration), total_cost_micro: total };
        const s = endBooking(b, cause, at(offset), at(Math.max(offset, 0)));
        return s.charged >= 0 && s.refund >= 0 && s.charged + s.refund === total && s.endedAt >= b.created_at && Number.isSafeInteger(s.charged);
      },
    ));
  });
});

describe('booking request rules (pure)', () => {
  const req = { clientId: 'alice', gpuId: 'gpu_x', durationHours: 1, jobId: '', dryRun: false, idempotencyKey: '' };

  it('plans the window: now for a start within the skew, a reservation for one ahead', () => {
    const now = T0;
    const plan = planBooking(req, now);
    assert.deepEqual([plan.start, plan.end, plan.reservation, plan.seconds], [now, at(3600), false, 3600]);
    assert.deepEqual(planBooking({ ...req, startTime: at(-30) }, now).start, now);
    assert.equal(planBooking({ ...req, startTime: at(600) }, now).reservation, true);
    assert.notEqual(planBooking({ ...req, jobId: 'j1' }, now).requestHash, plan.requestHash);
  });

  it('refuses what breaks a rule, naming the field', () => {
    const now = T0;
    const refused: [Partial<typeof req> & { startTime?: Date; maxTotalCostMicro?: number }, RegExp][] = [
      [{ startTime: at(-120) }, /start_time: must not be in the past/],
      [{ startTime: at(91 * 86_400) }, /start_time: must be within 90 days/],
      [{ startTime: new Date(Number.NaN) }, /start_time: must be a UTC time/],
      [{ jobId: 'a b' }, /job_id/],
      [{ clientId: '\u001b[2J' }, /client_id: must be an account id/],
      [{ clientId: '' }, /client_id: is required/],
      [{ maxTotalCostMicro: -1 }, /total_cost: must not be negative/],
      [{ idempotencyKey: 'k\u0000' }, /Idempotency-Key/],
      [{ durationHours: 0 }, /duration_hours/],
    ];
    for (const [change, message] of refused) assert.throws(() => planBooking({ ...req, ...change }, now), message, JSON.stringify(change));
    assert.throws(() => requireJobFields('alice', ''), /job_id: is required/);
    assert.throws(() => requireJobFields('a'.repeat(65), 'j'), /client_id/);
  });
});

describe('booking access (pure)', () => {
  const b = { client_id: 'alice', owner_id: 'acme', booked_by: 'coordinator' };
  it('lets the client, admins and the service that made it act; the owner only see', () => {
    const who = (accountId: string, role: Role) => ({ accountId, role });
    assert.ok(mayActOn(b, who('alice', Role.ROLE_CLIENT)));
    assert.ok(mayActOn(b, who('ops', Role.ROLE_ADMIN)));
    assert.ok(mayActOn(b, who('coordinator', Role.ROLE_SERVICE)));
    assert.ok(!mayActOn(b, who('other-service', Role.ROLE_SERVICE)));
    assert.ok(!mayActOn({ ...b, booked_by: 'alice' }, who('coordinator', Role.ROLE_SERVICE)));
    assert.ok(mayActOn({ ...b, booked_by: null }, who('any-service', Role.ROLE_SERVICE)));
    assert.ok(!mayActOn(b, who('acme', Role.ROLE_PROVIDER)));
    assert.ok(maySee(b, who('acme', Role.ROLE_PROVIDER)));
    assert.ok(!maySee(b, who('bob', Role.ROLE_CLIENT)));
  });
});
