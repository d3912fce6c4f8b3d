import assert from 'node:assert/strict';
import fc from 'fast-check';
import { durationSeconds, secondsUsed, settle, totalCost } from '../../services/booking/src/domain/billing';

describe('billing', () => {
  it('turns hours into whole seconds and refuses zero, negative, huge and non-numbers', () => {
    assert.equal(durationSeconds(1), 3600);
    assert.equal(durationSeconds(0.5), 1800);
    assert.equal(durationSeconds(1 / 3), 1200);
    assert.equal(durationSeconds(720), 2_592_000);
    for (const bad of [0, -1, 720.01, 1e9, Number.NaN, Number.POSITIVE_INFINITY, 0.0001]) {
      assert.throws(() => durationSeconds(bad), /duration_hours/, String(bad));
    }
    assert.throws(() => durationSeconds('2' as unknown as number), /duration_hours: must be a number/);
  });

  it('prices a booking with one half-up rounding', () => {
    assert.equal(totalCost(500_000, 3600), 500_000);
    assert.equal(totalCost(500_000, 1800), 250_000);
    assert.equal(totalCost(1, 1800), 1); // 0.5 micro rounds up
    assert.equal(totalCost(1, 1799), 0);
    assert.equal(totalCost(1_000_000_000_000, 2_592_000), 720_000_000_000_000); // 1e6 AITBC/h for 30 days, exact
  });

  it('bills started seconds', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    assert.equal(secondsUsed(start, new Date('2026-01-01T00:00:00.001Z')), 1);
    assert.equal(secondsUsed(start, new Date('2026-01-01T00:01:00Z')), 60);
    assert.equal(secondsUsed(start, new Date('2025-12-31T23:00:00Z')), 0);
  });

  it('settles exactly: charged + refund = total, 0 <= refund <= total (100,000 random cases)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1_000_000_000_000 }), // price per hour, micro (up to 1e6 AITBC)
      fc.integer({ min: 1, max: 2_592_000 }), // duration, seconds
      fc.double({ min: -10, max: 1.5, noNaN: true }), // how far into the booking it ends (fraction)
      (price, duration, fraction) => {
        const total = totalCost(price, duration);
        const { charged, refund } = settle(total, duration, duration * fraction);
        assert.equal(charged + refund, total);
        assert.ok(refund >= 0 && refund <= total, `refund ${refund} of ${total}`);
        assert.ok(Number.isSafeInteger(charged) && Number.isSafeInteger(refund));
        if (fraction <= 0) assert.equal(refund, total);
        if (fraction >= 1) assert.equal(charged, total);
      },
    ), { numRuns: 100_000 });
  });
});
