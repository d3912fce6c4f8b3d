import type { ListPlan } from '../../lib/gpuListQuery';
import type { ReplicaGpu } from './gpuReplicaIndex';
import type { OrderedGpus } from './gpuReplicaOrder';

const ASCII = /^[\x00-\x7f]*$/;
export const isAscii = (text: string) => ASCII.test(text);

/** A model name with its keys, and its listed GPUs: how many of each memory size, and in order. */
export interface ModelName {
  model: string;
  nameKey: string;
  catalogKey: string;
  sizes: Map<number, number>;
  gpus: OrderedGpus;
}

/** LIKE (or ILIKE) as PostgreSQL reads the pattern: `\` escapes, `%` any run, `_` one character. */
export function likeRegExp(pattern: string, ignoreCase: boolean): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]);
    else if (c === '%') source += '[\\s\\S]*';
    else if (c === '_') source += '[\\s\\S]';
    else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '');
}

const escapeRegExp = (c: string) => c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');

/**
 * The registry's list filter (services/registry/src/listGpus.ts) as a test of one GPU: true,
 * false, or undefined when a case-insensitive comparison meets text outside ASCII. Undefined
 * for the whole plan when its own model or region is outside ASCII. A model filter is
 * decided once per name and keys (`names`), as the registry resolves it against its counts
 * first: "none" when no name with a GPU of enough memory can match.
 */
export interface ReplicaFilter {
  test: (g: ReplicaGpu) => boolean | undefined;
  /** Under a model filter, the names that may match (with a GPU of enough memory). */
  names?: ModelName[];
}

export function filterOf(plan: ListPlan, now: Date, names: Map<string, ModelName>): ReplicaFilter | 'none' | undefined {
  const model = plan.model;
  if (model && !isAscii(model.namePattern)) return undefined;
  if (plan.region && !isAscii(plan.region)) return undefined;
  let verdicts: Map<string, boolean | undefined> | undefined;
  const candidates: ModelName[] = [];
  if (model) {
    const name = likeRegExp(model.namePattern, true);
    const key = model.keyPattern ? likeRegExp(model.keyPattern, false) : undefined;
    verdicts = new Map();
    for (const [triple, n] of names) {
      if (plan.memoryMin !== undefined && ![...n.sizes.keys()].some((m) => m >= plan.memoryMin!)) continue;
      // The keys decide exactly; the name only when it is ASCII (ILIKE elsewhere is the locale's).
      const verdict = (key?.test(n.nameKey) || n.catalogKey === model.catalogKey) ? true : isAscii(n.model) ? name.test(n.model) : undefined;
      verdicts.set(triple, verdict);
      if (verdict !== false) candidates.push(n);
    }
    if (!candidates.length) return 'none';
  }
  const region = plan.region?.toLowerCase();
  const { status, memoryMin, priceMin, priceMax, minerId, ownerId, minRating } = plan;
  const at = now.getTime();
  const test = (g: ReplicaGpu): boolean | undefined => {
    if (status) {
      if (status === 'offline' ? g.online : !g.online) return false;
      if (status !== 'offline') {
        const booked = g.bookingExpires !== null && g.bookingExpires.getTime() > at && (g.bookingStarts === null || g.bookingStarts.getTime() <= at);
        if (booked !== (status === 'booked')) return false;
      }
    }
    if (memoryMin !== undefined && g.memory < memoryMin) return false;
    if (priceMin !== undefined && g.price < priceMin) return false;
    if (priceMax !== undefined && g.price > priceMax) return false;
    if (minerId && g.minerId !== minerId) return false;
    if (ownerId && g.ownerId !== ownerId) return false;
    if (minRating !== undefined && g.rating < minRating) return false;
    if (region !== undefined) {
      if (!g.asciiRegion) return undefined;
      if (g.region.toLowerCase() !== region) return false;
    }
    // A name left out of `verdicts` has no GPU with enough memory: this one failed above.
    if (!verdicts) return true;
    return verdicts.has(g.nameTriple) ? verdicts.get(g.nameTriple) : false;
  };
  return { test, names: model ? candidates : undefined };
}
