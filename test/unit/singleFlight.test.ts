import assert from 'node:assert/strict';
import { singleFlight } from '../../lib/singleFlight';

describe('singleFlight', () => {
  it('shares one call among concurrent callers with the same key, and none after it settles', async () => {
    let calls = 0;
    const fetch = singleFlight(async (k: { q: string }) => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      return `${k.q}:${calls}`;
    }, (k) => k.q);
    const results = await Promise.all([fetch({ q: 'a' }), fetch({ q: 'a' }), fetch({ q: 'b' })]);
    assert.deepEqual(results, ['a:2', 'a:2', 'b:2']);
    assert.equal(calls, 2);
    assert.equal(await fetch({ q: 'a' }), 'a:3');
  });

  it('hands a failure to every joined caller and forgets it', async () => {
    let calls = 0;
    const fetch = singleFlight(async () => {
      calls++;
      throw new Error('down');
    }, () => 'k');
    const settled = await Promise.allSettled([fetch(undefined), fetch(undefined)]);
    assert.ok(settled.every((s) => s.status === 'rejected'));
    assert.equal(calls, 1);
    await assert.rejects(fetch(undefined));
    assert.equal(calls, 2);
  });
});
