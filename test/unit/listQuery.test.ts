import assert from 'node:assert/strict';
import { GpuSort, GpuStatus, ListGpusRequest } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { decodeCursor, encodeCursor, modelPatterns, planList } from '../../lib/gpuListQuery';

const req = (over: Partial<ListGpusRequest>) => ListGpusRequest.fromPartial(over);

describe('list planning', () => {
  it('defaults to newest first, 20 items', () => {
    const plan = planList(req({}));
    assert.deepEqual(plan.sort, { key: 'newest', column: 'created_at', descending: true });
    assert.equal(plan.limit, 20);
    assert.equal(plan.status, undefined);
  });

  it('maps every sort', () => {
    const cases: [GpuSort, string, string, boolean][] = [
      [GpuSort.GPU_SORT_PRICE_ASC, 'price', 'price_micro', false],
      [GpuSort.GPU_SORT_PRICE_DESC, '-price', 'price_micro', true],
      [GpuSort.GPU_SORT_RATING_ASC, 'rating', 'average_rating', false],
      [GpuSort.GPU_SORT_RATING_DESC, '-rating', 'average_rating', true],
      [GpuSort.GPU_SORT_MEMORY_ASC, 'memory', 'memory_gb', false],
      [GpuSort.GPU_SORT_MEMORY_DESC, '-memory', 'memory_gb', true],
    ];
    for (const [sort, key, column, descending] of cases) {
      assert.deepEqual(planList(req({ sort })).sort, { key, column, descending });
    }
  });

  it('refuses a limit out of range and contradictory filters, naming the field', () => {
    assert.throws(() => planList(req({ limit: 501 })), /limit: must be from 1 to 500/);
    assert.throws(() => planList(req({ priceMinMicro: 5, priceMaxMicro: 4 })), /price_min/);
    assert.throws(() => planList(req({ available: true, status: GpuStatus.GPU_STATUS_OFFLINE })), /available/);
    assert.throws(() => planList(req({ minRating: 6 })), /min_rating/);
    assert.throws(() => planList(req({ model: 'x'.repeat(101) })), /model/);
  });

  it('available=true means status available; available=false filters nothing', () => {
    assert.equal(planList(req({ available: true })).status, 'available');
    assert.equal(planList(req({ available: false })).status, undefined);
  });
});

describe('model patterns', () => {
  it('is a substring match with * and ? wildcards, escaping LIKE metacharacters', () => {
    assert.deepEqual(modelPatterns('4090'), { namePattern: '%4090%', keyPattern: '%4090%', catalogKey: 'rtx-4090' });
    assert.deepEqual(modelPatterns('RTX*90'), { namePattern: '%RTX%90%', keyPattern: '%rtx%90%', catalogKey: undefined });
    assert.deepEqual(modelPatterns('A?00'), { namePattern: '%A_00%', keyPattern: '%a_00%', catalogKey: undefined });
    assert.equal(modelPatterns('50%_off\\').namePattern, '%50\\%\\_off\\\\%');
  });

  it('matches names written without spaces or case through the normalised key', () => {
    assert.equal(modelPatterns('rtx 4090').keyPattern, '%rtx4090%');
    assert.equal(modelPatterns('RTX-4090').keyPattern, '%rtx4090%');
  });
});

describe('cursors', () => {
  const price = planList(req({ sort: GpuSort.GPU_SORT_PRICE_ASC })).sort;
  const newest = planList(req({})).sort;

  it('round-trips and stays URL-safe', () => {
    const text = encodeCursor(price, 1_500_000, 'gpu_abcdefghijklmnopqrst');
    assert.match(text, /^[A-Za-z0-9_-]+$/);
    assert.deepEqual(decodeCursor(text, price), { sort: 'price', value: 1_500_000, id: 'gpu_abcdefghijklmnopqrst' });
    const t2 = encodeCursor(newest, '2026-01-01T00:00:00.123Z', 'gpu_abcdefghijklmnopqrst');
    assert.equal(decodeCursor(t2, newest).value, '2026-01-01T00:00:00.123Z');
  });

  it('refuses garbage, tampering and a cursor of another sort', () => {
    assert.throws(() => decodeCursor('not a cursor!', price), /cursor: is not a cursor/);
    assert.throws(() => decodeCursor(Buffer.from('[1,2]').toString('base64url'), price), /cursor/);
    assert.throws(() => decodeCursor(Buffer.from('["price","x","id"]').toString('base64url'), price), /cursor/);
    assert.throws(() => decodeCursor(Buffer.from('["newest","nope","id"]').toString('base64url'), newest), /cursor/);
    assert.throws(() => decodeCursor(encodeCursor(newest, '2026-01-01T00:00:00Z', 'g'), price), /cursor: belongs to sort=newest/);
    assert.throws(() => decodeCursor('A'.repeat(201), price), /cursor/);
    // Values that do not fit the sort's column, times Date.parse takes but no column holds, ids not of this mesh.
    const id = 'gpu_abcdefghijklmnopqrst';
    for (const [sort, value, theId] of [[price, 1.5, id], [price, 1e300, id], [price, -1, id], [planList(req({ sort: GpuSort.GPU_SORT_MEMORY_ASC })).sort, 0.5, id],
      [newest, '1', id], [newest, 'x 2020', id], [newest, '2026-12-31T23:59:60Z', id], [newest, '2026-01-01T00:00:00Z', id], [price, 1, 'x']] as const) {
      assert.throws(() => decodeCursor(encodeCursor(sort, value, theId), sort), /cursor: is not a cursor/, `${sort.key} ${value} ${theId}`);
    }
  });
});

describe('model patterns without letters or digits', () => {
  it('match the name only (an empty key would match everything)', () => {
    assert.deepEqual(modelPatterns('%'), { namePattern: '%\\%%', keyPattern: undefined, catalogKey: undefined });
  });
});
