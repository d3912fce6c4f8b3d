import type { Gpu, GpuChange, RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { bookedAt, gpuStatus } from '../../lib/gpuStatus';
import type { ListPlan } from '../../lib/gpuListQuery';
import type { AsyncClient } from '../../lib/grpcClient';
import type { Logger } from '../../lib/logger';
import { Interned, ReplicaIndex, replicaGpu, type ReplicaGpu } from './gpuReplicaIndex';

export interface GpuReplicaOptions {
  /** How often the registry is asked what changed (ms). */
  pollMs: number;
  /**
   * How old an answer may be (ms). 0 (the default): a list waits for a pass that began after
   * it arrived, so it shows every write committed before it, as the registry would; lists
   * arriving together share one pass. A write through this gateway is always in its next list.
   */
  maxAgeMs: number;
  /** How long a list waits for that pass before the registry answers it instead (ms). */
  waitMs?: number;
  /** Changes per ListGpuChanges page. */
  pageSize?: number;
  /** Past this many listed GPUs, or this many bytes of their JSON, the replica lets go of them (memory) and the registry answers every list. */
  maxGpus?: number;
  maxJsonBytes?: number;
}

const [OPEN, COMMA, CLOSE] = ['[', ',', ']'].map((c) => Buffer.from(c));

/** Registry calls after which this gateway's next list must show their effect. */
const WRITES = new Set(['registerGpu', 'unregisterGpu', 'registerMiner', 'minerHeartbeat', 'unregisterMiner', 'publishOffer', 'syncOffers']);

export interface GpuReplica {
  /** Whether the replica may answer a list arriving now (after waiting, when it must, for a pass). */
  ready(): Promise<boolean>;
  /** A page as the registry would answer it, as JSON (UTF-8), or undefined: ask the registry. */
  page(plan: ListPlan, now: Date): { body: Buffer; nextCursor: string } | undefined;
  /** The registry client with its writes noted, for the routes. */
  watching(registry: AsyncClient<RegistryServiceClient>): AsyncClient<RegistryServiceClient>;
  stats(): { gpus: number; ageMs: number; loaded: boolean };
  start(): void;
  stop(): Promise<void>;
}

/**
 * The GPU list in the gateway's memory, so a list costs no hop: a replica of the registry's
 * listed GPUs, kept by asking the registry every `pollMs` for the GPUs written since the last
 * pass (ListGpuChanges: a watermark of transaction ids, so no commit is missed whatever order
 * transactions commit in). Answers follow the registry's own rules (gpuReplicaIndex.ts). By
 * default a list waits for a pass begun after it arrived (lists arriving meanwhile share it),
 * so it is as fresh as the registry's answer would be: the pass is one indexed statement that
 * finds what changed, where the registry's list is a plan, a walk and twenty GPUs sent over
 * gRPC. `toJson` renders a GPU as lists show it; `patchJson` when a booking began or ended.
 */
export function createGpuReplica(
  registry: AsyncClient<RegistryServiceClient>, logger: Logger, options: GpuReplicaOptions,
  toJson: (gpu: Gpu) => Buffer, patchJson: (json: Buffer, booked: boolean, g: ReplicaGpu) => Buffer,
): GpuReplica {
  const pageSize = options.pageSize ?? 2000;
  const waitMs = options.waitMs ?? 1000;
  const maxGpus = options.maxGpus ?? 2_000_000;
  const maxJsonBytes = options.maxJsonBytes ?? 2_000_000_000;
  let index = new ReplicaIndex();
  const intern = new Interned();
  let watermark = '0';
  let loaded = false;
  let freshAt = -Infinity; // when the last complete pass started (performance.now())
  let wroteAt = -Infinity;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  /** A pass of many pages is under way: lists go to the registry until it ends. */
  let bulkRunning = false;
  let failing = false;
  const waiters: { after: number; resolve: () => void }[] = [];

  function apply(change: GpuChange, now: Date): void {
    if (change.deleted || !change.gpu) return index.put(change.gpuId, undefined);
    const facts = { online: change.online, booking_starts: change.bookingStarts ?? null, booking_expires: change.bookingExpires ?? null };
    const booked = bookedAt(facts, now);
    const gpu = { ...change.gpu, status: gpuStatus(facts, now), bookingExpires: booked ? change.bookingExpires : undefined };
    index.put(change.gpuId, replicaGpu(change, toJson(gpu), booked, intern));
  }

  async function pass(): Promise<void> {
    const started = performance.now();
    let after = { change: watermark, id: '' };
    let next: string | undefined;
    let bulk = false;
    for (;;) {
      const res = await registry.listGpuChanges({ caller: undefined, afterChange: after.change, afterGpuId: after.id, limit: pageSize }, { deadlineMs: 10_000 });
      next ??= res.watermark;
      const now = new Date();
      for (const change of res.changes) apply(change, now);
      if (index.size > maxGpus || index.jsonBytes > maxJsonBytes) return giveUp();
      // A pass of one page puts its GPUs in order at once; a longer one (a first load, a bulk
      // load in the registry) sorts once at its end, the registry answering meanwhile.
      bulk ||= res.more;
      bulkRunning = bulk;
      if (!bulk) index.settle();
      if (!res.more) break;
      const last = res.changes[res.changes.length - 1];
      after = { change: last.change, id: last.gpuId };
    }
    index.settle();
    bulkRunning = false;
    watermark = next!;
    loaded = true;
    freshAt = started;
    for (const w of waiters.splice(0)) (w.after <= started ? w.resolve() : waiters.push(w));
  }

  /** Too many GPUs to hold: from now on the registry answers every list. */
  function giveUp(): void {
    logger.error({ gpus: index.size, maxGpus, jsonBytes: index.jsonBytes, maxJsonBytes },
      'GPU list replica stops: more listed GPUs than GPU_LIST_REPLICA_MAX_GPUS or JSON than GPU_LIST_REPLICA_MAX_MB; the registry answers every list');
    index = new ReplicaIndex();
    loaded = false;
    stopped = true;
    clearTimeout(timer);
    for (const w of waiters.splice(0)) w.resolve();
  }

  function run(): Promise<void> {
    running ??= pass().then(
      () => {
        if (failing) logger.info('GPU list replica reads the registry again');
        failing = false;
      },
      (err) => {
        bulkRunning = false;
        // Those waiting get the registry's own answer (or its error) instead.
        for (const w of waiters.splice(0)) w.resolve();
        if (!failing) logger.warn({ err }, 'GPU list replica cannot read the registry; lists go to the registry until it can');
        failing = true;
      },
    ).finally(() => {
      running = undefined;
      if (waiters.length && !stopped) void run();
    });
    return running;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => void run().finally(schedule), options.pollMs);
    timer.unref();
  }

  return {
    async ready() {
      // While the feed fails, the registry answers at once (no wait for a pass that fails too).
      if (!loaded || bulkRunning || failing) return false;
      const arrived = performance.now();
      // The pass this list needs: one begun after the writes it must see and within maxAgeMs.
      const need = Math.max(wroteAt, arrived - options.maxAgeMs);
      if (freshAt >= need) return true;
      const caughtUp = new Promise<void>((resolve) => waiters.push({ after: need, resolve }));
      if (!running) void run();
      let timeout: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timeout = setTimeout(resolve, waitMs)));
      await Promise.race([caughtUp, late]);
      clearTimeout(timeout);
      return freshAt >= need;
    },
    page(plan, now) {
      const found = index.page(plan, now);
      if (!found) return undefined;
      const parts: Buffer[] = [OPEN];
      for (const g of found.gpus) {
        const booked = bookedAt({ booking_starts: g.bookingStarts, booking_expires: g.bookingExpires }, now);
        if (booked !== g.jsonBooked) [g.json, g.jsonBooked] = [patchJson(g.json, booked, g), booked];
        if (parts.length > 1) parts.push(COMMA);
        parts.push(g.json);
      }
      parts.push(CLOSE);
      return { body: Buffer.concat(parts), nextCursor: found.nextCursor };
    },
    watching(client) {
      return new Proxy(client, {
        get(target, key: string) {
          const fn = (target as Record<string, unknown>)[key];
          if (!WRITES.has(key) || typeof fn !== 'function') return fn;
          return (request: unknown, callOptions?: { deadlineMs?: number }) =>
            (fn as (r: unknown, o?: unknown) => Promise<unknown>)(request, callOptions).finally(() => (wroteAt = performance.now()));
        },
      });
    },
    stats: () => ({ gpus: index.size, ageMs: loaded ? performance.now() - freshAt : -1, loaded }),
    start() {
      stopped = false;
      void run().finally(schedule);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
