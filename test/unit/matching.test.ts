import assert from 'node:assert/strict';
import { cleanBid } from '../../services/market/src/domain/bidRules';
import { type BidWants, type FreeGpu, meets, planFills } from '../../services/market/src/domain/matching';

const gpu = (id: string, price: number, extra: Partial<FreeGpu> = {}): FreeGpu => ({
  gpu_id: id, owner_id: 'acme', miner_id: 'rig-1', model: 'NVIDIA RTX 4090', model_key: 'rtx4090', memory_gb: 24, region: 'eu',
  price_micro: price, average_rating: 0, free_until_ms: null, ...extra,
});
const bid = (id: string, price: number, capacity = 1, extra: Partial<BidWants> = {}): BidWants => ({
  bid_id: id, provider: '*', capacity, price_micro: price, gpu_model: '', memory_min: 0, region: '', needed_until_ms: 10_000, duration_seconds: 3600, ...extra,
});

describe('bid matching (pure)', () => {
  it('meets a bid on price, provider (account or miner), model (any spelling), memory, region and the whole window', () => {
    const g = gpu('g1', 100);
    assert.ok(meets(g, bid('b', 100)));
    assert.ok(!meets(g, bid('b', 99)), 'dearer than the bid');
    assert.ok(meets(g, bid('b', 100, 1, { provider: 'acme' })) && meets(g, bid('b', 100, 1, { provider: 'rig-1' })));
    assert.ok(!meets(g, bid('b', 100, 1, { provider: 'other' })));
    assert.ok(meets(g, bid('b', 100, 1, { gpu_model: 'rtx-4090' })) && meets(g, bid('b', 100, 1, { gpu_model: '4090' })));
    assert.ok(!meets(g, bid('b', 100, 1, { gpu_model: 'A100' })));
    assert.ok(meets(g, bid('b', 100, 1, { gpu_model: 'RTX 4090' })) && meets(g, bid('b', 100, 1, { gpu_model: 'nvidia rtx' })));
    const l40s = gpu('l40s', 100, { model: 'NVIDIA L40S', model_key: 'l40s' });
    assert.ok(!meets(l40s, bid('b', 100, 1, { gpu_model: 'L4' })), 'L4 is another GPU than L40S');
    assert.ok(!meets(g, bid('b', 100, 1, { gpu_model: '409' })), 'part of a word names nothing');
    assert.ok(!meets(g, bid('b', 100, 1, { memory_min: 25 })));
    assert.ok(!meets(g, bid('b', 100, 1, { region: 'us' })) && meets(g, bid('b', 100, 1, { region: 'eu' })));
    assert.ok(!meets(gpu('g2', 100, { free_until_ms: 9_999 }), bid('b', 100)), 'booked before the bid would end');
    assert.ok(meets(gpu('g2', 100, { free_until_ms: 10_000 }), bid('b', 100)));
    const termed = gpu('g3', 100, { offer_min_hours: 2, offer_max_hours: 4 });
    assert.ok(!meets(termed, bid('b', 100)), 'shorter than the offer allows');
    assert.ok(meets(termed, bid('b', 100, 1, { duration_seconds: 2 * 3600 })) && meets(termed, bid('b', 100, 1, { duration_seconds: 4 * 3600 })));
    assert.ok(!meets(termed, bid('b', 100, 1, { duration_seconds: 4 * 3600 + 1 })), 'longer than the offer allows');
  });

  it('gives the highest bids their cheapest, then best rated GPUs, all or none, no GPU twice', () => {
    const free = [gpu('dear', 300), gpu('cheap-ok', 100, { average_rating: 3 }), gpu('cheap-best', 100, { average_rating: 5 }), gpu('mid', 200)];
    const plans = planFills([bid('high', 500, 2), bid('low', 250, 1), bid('big', 400, 3)], free);
    assert.deepEqual(plans.get('high')!.slice(0, 2).map((g) => g.gpu_id), ['cheap-best', 'cheap-ok']);
    assert.equal(plans.get('high')!.length, 4, 'the rest are spares');
    assert.equal(plans.has('big'), false, 'three GPUs are not left for it: none rather than part');
    assert.deepEqual(plans.get('low')!.map((g) => g.gpu_id), ['mid'], 'a smaller bid is not held up by a bigger one it cannot follow');
    const taken = [...plans.values()].flatMap((p, i) => p.slice(0, [2, 1][i]).map((g) => g.gpu_id));
    assert.equal(new Set(taken).size, taken.length);
  });

  it('checks a bid: whole capacity 1–64, a price, provider ids, an expiry in the next 30 days', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const base = { provider: '*', capacity: 1, priceMicro: 1, notes: '', durationSeconds: 0, gpuModel: '', memoryMin: 0, region: '' };
    const ok = cleanBid(base, now);
    assert.equal(ok.duration_seconds, 3600);
    assert.equal(ok.expires_at.toISOString(), '2026-01-02T00:00:00.000Z');
    for (const bad of [{ capacity: 0 }, { capacity: 65 }, { capacity: 1.5 }, { priceMicro: 0 }, { provider: 'a b' }, { durationSeconds: 721 * 3600 },
      { expiresAt: now }, { expiresAt: new Date(now.getTime() + 31 * 86_400_000) }, { notes: 'x'.repeat(1001) }]) {
      assert.throws(() => cleanBid({ ...base, ...bad }, now), (err: Error & { field?: string }) => /must/.test(err.message), JSON.stringify(bad));
    }
  });
});
