import { randomUUID } from 'node:crypto';

/**
 * The load the fleet test puts on two gateways: clients booking, releasing and bidding, a
 * rig heartbeating. A request that fails in transit (a gateway or a service killed under it)
 * is retried on the other gateway with the same Idempotency-Key, as a careful client would;
 * what matters afterwards is that every booking acknowledged exists exactly once.
 */
export interface LoadCounts {
  bookRequests: number;
  acknowledged: Map<string, string>; // Idempotency-Key → booking id
  conflicts: number;
  retries: number;
  released: number;
  bids: string[];
  heartbeats: number;
  failedHeartbeats: number;
}

export interface LoadTarget {
  gateways: string[];
  clientKey: string;
  providerKey: string;
  gpuIds: string[];
  minerId: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One request with a deadline; a dropped connection or a 5xx comes back as `undefined`. */
async function call(url: string, key: string, method: string, body?: unknown, headers: Record<string, string> = {}) {
  try {
    const res = await fetch(url, {
      method, signal: AbortSignal.timeout(10_000),
      headers: { 'x-api-key': key, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    return res.status >= 500 ? undefined : { status: res.status, json: json as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

export function startLoad(target: LoadTarget, options: { clients: number; bidEveryMs: number }) {
  const counts: LoadCounts = {
    bookRequests: 0, acknowledged: new Map(), conflicts: 0, retries: 0, released: 0, bids: [], heartbeats: 0, failedHeartbeats: 0,
  };
  let stopped = false;
  let turn = 0;
  const gateway = () => target.gateways[turn++ % target.gateways.length];

  /** Retries on the next gateway until an answer (4xx or 2xx) comes back. */
  async function persist(path: string, key: string, method: string, body?: unknown, headers?: Record<string, string>) {
    for (let attempt = 0; attempt < 60; attempt++) {
      const res = await call(`${gateway()}${path}`, key, method, body, headers);
      if (res && res.status !== 429) return res;
      counts.retries++;
      await sleep(250);
    }
    throw new Error(`${method} ${path} got no answer in 60 attempts`);
  }

  async function client(): Promise<void> {
    while (!stopped) {
      const gpu = target.gpuIds[Math.floor(Math.random() * target.gpuIds.length)];
      const idem = randomUUID();
      counts.bookRequests++;
      // 4 to 9 seconds: many end by expiry during the test, others are released early.
      const hours = (4 + Math.random() * 5) / 3600;
      const res = await persist(`/v1/marketplace/gpu/${gpu}/book`, target.clientKey, 'POST', { duration_hours: hours }, { 'idempotency-key': idem });
      if (res.status === 201 || res.status === 200) {
        const id = String(res.json.booking_id);
        counts.acknowledged.set(idem, id);
        if (Math.random() < 0.5) {
          await sleep(Math.random() * 2000);
          const rel = await persist(`/v1/marketplace/bookings/${id}/release`, target.clientKey, 'POST');
          if (rel.status === 200) counts.released++;
        }
        // Otherwise straight on to the next booking: contention on few GPUs is the point.
      } else if (res.status === 409) {
        counts.conflicts++;
        await sleep(100);
      } else {
        throw new Error(`booking answered ${res.status}: ${JSON.stringify(res.json)}`);
      }
    }
  }

  async function bidder(): Promise<void> {
    while (!stopped) {
      const res = await persist('/v1/marketplace/bids', target.clientKey, 'POST', { provider: '*', capacity: 1, price: 100, duration_hours: 5 / 3600 });
      if (res.status < 200 || res.status > 299) throw new Error(`bid answered ${res.status}: ${JSON.stringify(res.json)}`);
      counts.bids.push(String(res.json.id ?? res.json.bid_id));
      await sleep(options.bidEveryMs);
    }
  }

  async function rig(): Promise<void> {
    while (!stopped) {
      const res = await call(`${gateway()}/v1/miners/heartbeat`, target.providerKey, 'POST', {}, { 'x-miner-id': target.minerId });
      if (res?.status === 200) counts.heartbeats++;
      else counts.failedHeartbeats++;
      await sleep(500);
    }
  }

  const running = [...Array.from({ length: options.clients }, client), bidder(), rig()];
  return {
    counts,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
