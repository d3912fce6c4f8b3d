import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  applyMultiplier, instantUtilization, isHistoryPoint, MAX_MULTIPLIER_BP, medianPrice, MIN_MULTIPLIER_BP, multiplierBp, percentilePrice,
  smoothUtilization,
} from '../../services/pricing/src/domain/demandPricing';
import { nextModelState, type PricingParams } from '../../services/pricing/src/domain/modelState';
import type { Supply } from '../../services/pricing/src/store';

const utilization = fc.double({ min: 0, max: 1, noNaN: true });

describe('demand multiplier', () => {
  it('is 0.8 idle, 1.0 at half use, 2.0 sold out', () => {
    assert.equal(multiplierBp(0), 8_000);
    assert.equal(multiplierBp(0.5), 10_000);
    assert.equal(multiplierBp(0.75), 15_000);
    assert.equal(multiplierBp(1), 20_000);
  });

  it('stays within its bounds for any input, even out of range or not a number', () => {
    fc.assert(fc.property(fc.double(), (u) => {
      const m = multiplierBp(u);
      return Number.isInteger(m) && m >= MIN_MULTIPLIER_BP && m <= MAX_MULTIPLIER_BP;
    }), { numRuns: 20_000 });
  });

  it('never falls when utilisation rises (property)', () => {
    fc.assert(fc.property(utilization, utilization, (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      return multiplierBp(lo) <= multiplierBp(hi);
    }), { numRuns: 20_000 });
  });

  it('instant utilisation is booked over online, 0 with nothing online', () => {
    assert.equal(instantUtilization(0, 0), 0);
    assert.equal(instantUtilization(4, 3), 0.75);
    assert.equal(instantUtilization(2, 5), 1);
  });
});

describe('smoothing', () => {
  const tau = 60_000;

  it('moves toward the target by the share the elapsed time earns, never past it (property)', () => {
    fc.assert(fc.property(utilization, utilization, fc.integer({ min: 0, max: 10 * tau }), (prev, target, dt) => {
      const next = smoothUtilization(prev, target, dt, tau);
      const gap = Math.abs(target - prev);
      const moved = Math.abs(next - prev);
      const lo = Math.min(prev, target) - 1e-12;
      const hi = Math.max(prev, target) + 1e-12;
      return next >= lo && next <= hi && moved <= gap * (1 - Math.exp(-dt / tau)) + 1e-12;
    }), { numRuns: 20_000 });
  });

  it('one booking cannot swing it: a sold-out model one second after idling moves the multiplier by under 2%', () => {
    const after = smoothUtilization(0, 1, 1000, tau);
    assert.ok(multiplierBp(after) - multiplierBp(0) < 160, String(multiplierBp(after)));
  });

  it('is the same in one step or many (a burst of events moves it no more than one)', () => {
    fc.assert(fc.property(utilization, utilization, fc.integer({ min: 1, max: 50 }), (prev, target, steps) => {
      let stepwise = prev;
      for (let i = 0; i < steps; i++) stepwise = smoothUtilization(stepwise, target, 1000, tau);
      return Math.abs(stepwise - smoothUtilization(prev, target, steps * 1000, tau)) < 1e-9;
    }));
  });

  it('is monotonic in utilisation: a higher target never gives a lower multiplier (property)', () => {
    fc.assert(fc.property(utilization, utilization, utilization, fc.integer({ min: 0, max: tau }), (prev, a, b, dt) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      return multiplierBp(smoothUtilization(prev, lo, dt, tau)) <= multiplierBp(smoothUtilization(prev, hi, dt, tau));
    }), { numRuns: 10_000 });
  });
});

describe('prices', () => {
  it('applies a multiplier with one half-up rounding, exactly, even for the largest prices', () => {
    assert.equal(applyMultiplier(1_000_000, 15_000), 1_500_000);
    assert.equal(applyMultiplier(3, 15_000), 5); // 4.5 → 5
    assert.equal(applyMultiplier(1_000_000_000_000, 20_000), 2_000_000_000_000);
  });

  it('median and percentiles of integer prices', () => {
    assert.equal(medianPrice([]), 0);
    assert.equal(medianPrice([3, 1, 2]), 2);
    assert.equal(medianPrice([1, 2, 3, 4]), 3); // 2.5 rounds half up
    assert.equal(percentilePrice([10, 20, 30, 40, 50], 0.25), 20);
    assert.equal(percentilePrice([10, 20, 30, 40, 50], 0.75), 40);
    assert.equal(percentilePrice([10, 20], 0.25), 13); // 12.5 → 13
  });

  it('history points: a move past the threshold, or the interval elapsed', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const later = (ms: number) => new Date(at.getTime() + ms);
    assert.deepEqual(isHistoryPoint(undefined, 100, at, 100, 3600_000), { record: true, moved: false });
    assert.deepEqual(isHistoryPoint({ priceMicro: 1_000_000, at }, 1_010_000, later(1000), 100, 3600_000), { record: false, moved: false });
    assert.deepEqual(isHistoryPoint({ priceMicro: 1_000_000, at }, 1_010_001, later(1000), 100, 3600_000), { record: true, moved: true });
    assert.deepEqual(isHistoryPoint({ priceMicro: 1_000_000, at }, 989_999, later(1000), 100, 3600_000), { record: true, moved: true });
    assert.deepEqual(isHistoryPoint({ priceMicro: 1_000_000, at }, 1_000_000, later(3600_000), 100, 3600_000), { record: true, moved: false });
  });
});

describe('a model\'s next state', () => {
  const params: PricingParams = { smoothingMs: 10_000, historyThresholdBp: 100, historyIntervalMs: 3600_000 };
  const supply = (online: number, booked: number, prices: number[]): Supply => ({
    model_key: 'rtx-4090', model: 'RTX 4090', total: prices.length, online, booked, online_prices: prices.slice(0, online), all_prices: prices,
    cheapest_gpu_id: 'gpu_a', cheapest_price_micro: Math.min(...prices),
  });
  const t0 = new Date('2026-01-01T00:00:00Z');
  const at = (s: number) => new Date(t0.getTime() + s * 1000);

  it('opens a new market at its listed median (multiplier 1.0), then follows demand and records the moves', () => {
    const prices = [1_000_000, 2_000_000, 3_000_000, 4_000_000];
    const first = nextModelState('rtx-4090', undefined, supply(4, 0, prices), undefined, t0, params);
    assert.equal(first.row.base_price_micro, 2_500_000);
    assert.equal(first.row.base_price_source, 'median_listed');
    assert.equal(first.row.multiplier_bp, 10_000);
    assert.equal(first.row.current_price_micro, 2_500_000);
    assert.ok(first.point, 'the first computation is a history point');

    // Three of four booked for 30 s (3 τ): utilisation 0.5 → ~0.74, price up, a point and a move.
    const busy = nextModelState('rtx-4090', first.row, supply(4, 3, prices), undefined, at(30), params);
    assert.ok(busy.row.multiplier_bp > 14_000, String(busy.row.multiplier_bp));
    assert.ok(busy.point && busy.moved);
    assert.equal(busy.moved.previousPriceMicro, 2_500_000);
    assert.equal(busy.row.current_price_micro, applyMultiplier(2_500_000, busy.row.multiplier_bp));
    assert.equal(busy.row.cheapest_price_micro, applyMultiplier(1_000_000, busy.row.multiplier_bp));

    // One second later with nothing changed: the price barely moves, so no new point.
    const still = nextModelState('rtx-4090', busy.row, supply(4, 3, prices), undefined, at(30.001), params);
    assert.equal(still.point, undefined);
  });

  it('an admin price wins over the median; with nothing online the median of all GPUs is used', () => {
    const prev = nextModelState('rtx-4090', undefined, supply(2, 0, [1_000_000, 3_000_000]), undefined, t0, params).row;
    const admin = nextModelState('rtx-4090', { ...prev, admin_price_micro: 5_000_000 }, supply(2, 0, [1_000_000, 3_000_000]), undefined, at(1), params);
    assert.equal(admin.row.base_price_micro, 5_000_000);
    assert.equal(admin.row.base_price_source, 'admin');
    const offline = nextModelState('rtx-4090', prev, supply(0, 0, [1_000_000, 3_000_000]), undefined, at(1), params);
    assert.equal(offline.row.base_price_source, 'median_listed_all');
    assert.equal(offline.row.base_price_micro, 2_000_000);
  });

  it('the fair band is the 25th–75th percentile of recent booked prices', () => {
    const next = nextModelState('rtx-4090', undefined, supply(1, 0, [1_000_000]), {
      model_key: 'rtx-4090', recent: 2, prices: [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000],
    }, t0, params);
    assert.deepEqual([next.row.fair_low_micro, next.row.fair_high_micro, next.row.fair_band_bookings, next.row.recent_bookings],
      [2_000_000, 4_000_000, 5, 2]);
  });
});
