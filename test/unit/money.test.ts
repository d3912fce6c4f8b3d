import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatMoney, parseMoney, toUnits } from '../../lib/money';

describe('money', () => {
  it('parses decimal amounts exactly into micro-units', () => {
    assert.equal(parseMoney(0.1, 'p'), 100_000);
    assert.equal(parseMoney(2.5, 'p'), 2_500_000);
    assert.equal(parseMoney('1.000001', 'p'), 1_000_001);
    assert.equal(parseMoney(0.000001, 'p'), 1); // String(0.000001) is "0.000001"
    assert.equal(parseMoney(123456789.123456, 'p'), 123_456_789_123_456);
  });

  it('refuses negatives, too many decimals, exponents and non-numbers, naming the field', () => {
    assert.throws(() => parseMoney(-1, 'price'), /price: must not be negative/);
    assert.throws(() => parseMoney(0.1234567, 'price'), /price: .*at most 6 decimals/);
    assert.throws(() => parseMoney(1e-7, 'price'), /price:/);
    assert.throws(() => parseMoney(1e21, 'price'), /price:/);
    assert.throws(() => parseMoney('abc', 'price'), /price:/);
    assert.throws(() => parseMoney(null, 'price'), /price: must be a number/);
  });

  it('refuses JSON numbers too large to carry 6 decimals, and takes them exactly as strings', () => {
    // 8717854081.271348 as a double prints as …271349: one micro-AITBC would be changed silently.
    assert.throws(() => parseMoney(8717854081.271348, 'amount'), /amount: is too large to carry its decimals exactly as a JSON number/);
    assert.throws(() => parseMoney(2 ** 33 + 0.5, 'amount'), /as a JSON string/);
    assert.equal(parseMoney('8717854081.271348', 'amount'), 8_717_854_081_271_348);
    assert.equal(parseMoney(9_000_000_000, 'amount'), 9_000_000_000_000_000);
    // Below 2^33 every 6-decimal amount survives the trip through a double.
    fc.assert(fc.property(fc.integer({ min: 2 ** 32 * 1e6, max: 2 ** 33 * 1e6 - 1 }), (micro) => {
      assert.equal(parseMoney(Number(formatMoney(micro)), 'x'), micro);
    }), { numRuns: 5000 });
  });

  it('formats micro-units back without float noise', () => {
    assert.equal(formatMoney(100_000), '0.1');
    assert.equal(formatMoney(1), '0.000001');
    assert.equal(formatMoney(-2_500_000), '-2.5');
    assert.equal(toUnits(1_234_567), 1.234567);
    assert.throws(() => formatMoney(0.5), RangeError);
  });

  it('round-trips every amount with up to 6 decimals', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 999_999_999_999_999 }), (micro) => {
      assert.equal(parseMoney(formatMoney(micro), 'x'), micro);
      assert.equal(parseMoney(toUnits(micro), 'x'), micro);
    }), { numRuns: 5000 });
  });
});
