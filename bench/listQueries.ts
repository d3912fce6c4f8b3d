/**
 * The GPU list queries people send: filters by model (a catalogue name, a spelling, a
 * wildcard), memory, price, region and rating, each sort, in random combinations drawn from a
 * seeded generator (the same run draws the same queries).
 */
const MODELS = ['RTX 4090', '4090', 'rtx-3090', 'A100*', 'H100 80GB', 'l40s', 'RTX*', '*80GB'];
const SORTS = ['newest', 'price', '-price', 'rating', '-rating', 'memory', '-memory'];
const REGIONS = ['eu-west', 'us-east', 'ap-south'];

/** A small deterministic generator (mulberry32), so runs compare like with like. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct list query strings (without the path), each with 1 to 4 filters and a sort. */
export function distinctListQueries(count: number, random = seededRandom(19)): string[] {
  const pick = <T>(items: T[]) => items[Math.floor(random() * items.length)];
  const out = new Set<string>();
  while (out.size < count) {
    const q = new URLSearchParams({ limit: '20' });
    if (random() < 0.7) q.set('available', 'true');
    const filters = [
      () => q.set('model', pick(MODELS)),
      () => q.set('memory_min', String(pick([16, 24, 40, 48, 80]))),
      () => q.set('price_max', (0.5 + Math.floor(random() * 3500) / 1000).toFixed(3)),
      () => q.set('price_min', (0.1 + Math.floor(random() * 1500) / 1000).toFixed(3)),
      () => q.set('region', pick(REGIONS)),
      () => q.set('min_rating', pick(['1', '2.5', '3', '4', '4.5'])),
    ];
    const n = 1 + Math.floor(random() * 4);
    for (let i = 0; i < n; i++) pick(filters)();
    // A price band, not an empty one (that would be a 400).
    const [low, high] = [Number(q.get('price_min') ?? 0), Number(q.get('price_max') ?? Infinity)];
    if (low > high) [q.set('price_min', high.toFixed(3)), q.set('price_max', low.toFixed(3))];
    q.set('sort', pick(SORTS));
    out.add(q.toString());
  }
  return [...out];
}
