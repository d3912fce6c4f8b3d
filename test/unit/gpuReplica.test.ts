import assert from 'node:assert/strict';
import { Gpu, GpuSort, GpuStatus, ListGpusRequest, type GpuChange } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { planList } from '../../lib/gpuListQuery';
import { createGpuReplica } from '../../gateway/src/gpuReplica';
import { likeRegExp } from '../../gateway/src/gpuReplicaFilter';
import { ReplicaIndex, replicaGpu } from '../../gateway/src/gpuReplicaIndex';
import { listedGpuJson, rebookedGpuJson } from '../../gateway/src/gpuListJson';
import { createLogger } from '../../lib/logger';

const T = Date.parse('2026-12-03T12:00:00.000Z');
const change = (n: number, extra: Partial<GpuChange> = {}, gpu: Partial<Gpu> = {}): GpuChange => ({
  change: '1', gpuId: `gpu_${String(n).padStart(20, '0')}`, deleted: false, online: true, bookingStarts: undefined, bookingExpires: undefined,
  bookingId: '', nameKey: 'rtx4090', ...extra,
  gpu: Gpu.fromPartial({ id: `gpu_${String(n).padStart(20, '0')}`, model: 'RTX 4090', modelKey: 'rtx-4090', memoryGb: 24, pricePerHourMicro: 100000 * n,
    createdAt: new Date(T - n * 1000), region: 'eu-west', ownerId: 'acme', minerId: 'rig', status: GpuStatus.GPU_STATUS_AVAILABLE, ...gpu }),
});
const EMPTY = Buffer.from('{}');
const plan = (req: Partial<ListGpusRequest>) => planList(ListGpusRequest.fromPartial({ limit: 20, ...req }));

describe('GPU list replica (pure parts)', () => {
  it('reads LIKE patterns as PostgreSQL does: % any run, _ one character, \\ escapes', () => {
    assert.ok(likeRegExp('%4090%', true).test('NVIDIA RTX 4090 Ti'));
    assert.ok(likeRegExp('%rtx_4090%', true).test('RTX-4090'));
    assert.ok(!likeRegExp('%rtx\\_4090%', true).test('RTX-4090'));
    assert.ok(likeRegExp('%rtx\\_4090%', true).test('rtx_4090'));
    assert.ok(likeRegExp('%100\\%%', false).test('a 100% b'));
    assert.ok(!likeRegExp('%100\\%%', false).test('a 1000 b'));
    assert.ok(likeRegExp('%a.b%', false).test('a.b') && !likeRegExp('%a.b%', false).test('axb'), 'regex characters are literal');
    assert.ok(likeRegExp('%x%', false).test('line\nx'), '% spans new lines');
    assert.ok(!likeRegExp('%abc%', false).test('ABC') && likeRegExp('%abc%', true).test('ABC'));
  });

  it('shows a GPU booked while its booking covers now, and available before and after, in JSON and in the status filter', async () => {
    const start = new Date(T + 1000);
    const end = new Date(T + 5000);
    const c = change(1, { bookingStarts: start, bookingExpires: end });
    const replica = createGpuReplica({ listGpuChanges: async () => ({ changes: [c], watermark: '2' }) } as never, createLogger('t', 'silent'),
      { pollMs: 60_000, maxAgeMs: 0 }, listedGpuJson, rebookedGpuJson);
    replica.start();
    for (let i = 0; i < 100 && !replica.stats().loaded; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(await replica.ready());
    const at = (ms: number) => JSON.parse(replica.page(plan({}), new Date(T + ms))!.body.toString())[0];
    assert.equal(at(0).status, 'available');
    assert.equal(at(0).booking_expires, null);
    assert.equal(at(2000).status, 'booked');
    assert.equal(at(2000).booking_expires, end.toISOString());
    assert.equal(at(6000).status, 'available');
    assert.equal(JSON.parse(replica.page(plan({ status: GpuStatus.GPU_STATUS_BOOKED }), new Date(T + 2000))!.body.toString()).length, 1);
    assert.equal(JSON.parse(replica.page(plan({ available: true }), new Date(T + 2000))!.body.toString()).length, 0);
    await replica.stop();
  });

  it('lets go of its GPUs past GPU_LIST_REPLICA_MAX_GPUS: the registry answers every list from then on', async () => {
    const changes = [change(1), change(2), change(3)];
    const replica = createGpuReplica({ listGpuChanges: async () => ({ changes, watermark: '2' }) } as never, createLogger('t', 'silent'),
      { pollMs: 10, maxAgeMs: 0, maxGpus: 2 }, listedGpuJson, rebookedGpuJson);
    replica.start();
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(replica.stats(), { gpus: 0, ageMs: -1, loaded: false });
    assert.equal(await replica.ready(), false);
    await replica.stop();
  });

  it('keeps each order through changes in place, moves, removals and bulk merges', () => {
    const index = new ReplicaIndex();
    for (let n = 1; n <= 100; n++) index.put(change(n).gpuId, replicaGpu(change(n), EMPTY, false));
    index.settle();
    const prices = () => index.page(plan({ sort: GpuSort.GPU_SORT_PRICE_ASC, limit: 500 }), new Date(T))!.gpus.map((g) => g.price);
    assert.deepEqual(prices(), Array.from({ length: 100 }, (_, i) => 100000 * (i + 1)));
    // In place (same sort values), moved (a new price), gone, and 40 at once (a merge).
    index.put(change(5).gpuId, replicaGpu(change(5, { online: false }), EMPTY, false));
    index.put(change(6).gpuId, replicaGpu(change(6, {}, { pricePerHourMicro: 1 }), EMPTY, false));
    index.put(change(7).gpuId, undefined);
    index.settle();
    assert.deepEqual(prices().slice(0, 3), [1, 100000, 200000]);
    assert.equal(prices().length, 99);
    for (let n = 101; n <= 140; n++) index.put(change(n).gpuId, replicaGpu(change(n, {}, { pricePerHourMicro: 50 + n }), EMPTY, false));
    index.settle();
    const sorted = prices();
    assert.equal(sorted.length, 139);
    assert.deepEqual(sorted, [...sorted].sort((a, b) => a - b));
    // Back to where it was: its dead entry and its live one share a place; pages neither repeat nor skip it.
    index.put(change(6).gpuId, replicaGpu(change(6), EMPTY, false));
    index.put(change(8).gpuId, replicaGpu(change(8, {}, { pricePerHourMicro: 5 }), EMPTY, false));
    index.settle();
    index.put(change(8).gpuId, replicaGpu(change(8), EMPTY, false));
    index.settle();
    for (const sort of [GpuSort.GPU_SORT_PRICE_ASC, GpuSort.GPU_SORT_PRICE_DESC]) {
      const whole = index.page(plan({ sort, limit: 500 }), new Date(T))!.gpus.map((g) => g.id);
      const paged: string[] = [];
      let cursor = '';
      for (;;) {
        const page = index.page(plan({ sort, limit: 3, cursor }), new Date(T))!;
        paged.push(...page.gpus.map((g) => g.id));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(paged, whole);
      assert.equal(new Set(whole).size, 139);
    }
  });

  it('answers a cursor outside the sort column\'s own filter with an empty page (it ran off its order: a 500)', () => {
    const index = new ReplicaIndex();
    for (let n = 1; n <= 30; n++) index.put(change(n).gpuId, replicaGpu(change(n, {}, { memoryGb: [24, 48, 80][n % 3] }), EMPTY, false));
    index.settle();
    const now = new Date(T);
    const cursorOf = (sort: GpuSort, value: number) => Buffer.from(JSON.stringify([`gpus:${planList(ListGpusRequest.fromPartial({ sort })).sort.key}`, value, change(1).gpuId])).toString('base64url');
    const desc = GpuSort.GPU_SORT_MEMORY_DESC;
    assert.deepEqual(index.page(plan({ sort: desc, memoryMin: 80, cursor: cursorOf(desc, 48) }), now), { gpus: [], nextCursor: '' });
    const asc = GpuSort.GPU_SORT_PRICE_ASC;
    assert.deepEqual(index.page(plan({ sort: asc, priceMaxMicro: 1000000, cursor: cursorOf(asc, 3000000) }), now), { gpus: [], nextCursor: '' });
  });

  it('leaves to the registry what it cannot be sure of: names and regions outside ASCII under case-insensitive filters', () => {
    const index = new ReplicaIndex();
    index.put(change(1).gpuId, replicaGpu(change(1, {}, { model: 'RTX 4090 Ü' }), EMPTY, false));
    index.put(change(2).gpuId, replicaGpu(change(2, {}, { region: 'ᴋ-north' }), EMPTY, false));
    index.settle();
    const now = new Date(T);
    assert.equal(index.page(plan({ model: '4090 ü' }), now), undefined);
    assert.equal(index.page(plan({ model: 'gpu' }), now), undefined, 'a name outside ASCII might match case-insensitively');
    assert.equal(index.page(plan({ region: 'k-north' }), now), undefined);
    assert.equal(index.page(plan({}), now)!.gpus.length, 2, 'without those filters it answers');
    assert.deepEqual(index.page(plan({ model: 'nothing', memoryMin: 48 }), now), { gpus: [], nextCursor: '' }, 'no name has a GPU with enough memory');
  });
});
