import assert from 'node:assert/strict';
import { requestTime } from '../../lib/time';

describe('request times', () => {
  it('takes real instants, with or without an offset', () => {
    assert.equal(requestTime('t', '2026-12-02T08:00:00Z')!.toISOString(), '2026-12-02T08:00:00.000Z');
    assert.equal(requestTime('t', '2024-02-29')!.toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(requestTime('t', '2024-03-01T00:30:00+01:00')!.toISOString(), '2024-02-29T23:30:00.000Z');
    assert.equal(requestTime('t', undefined), undefined);
  });

  it('refuses days that do not exist, which Date() would roll into the next month', () => {
    for (const text of ['2026-02-30', '2026-02-29', '2026-02-31T10:00:00Z', '2026-04-31', '2026-13-01', '2026-00-10']) {
      assert.throws(() => requestTime('from_time', text), /from_time: names a day that does not exist/, text);
    }
    assert.throws(() => requestTime('from_time', '2026-12-31T23:59:60Z'), /from_time: must be a UTC time/);
  });
});
