import assert from 'node:assert/strict';
import { waitFor } from '../support/events';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

/** An open GET /v1/events/gpus: the events read so far, and how to close it. */
async function openStream(url: string, key: string) {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/events/gpus`, { headers: { 'X-Api-Key': key }, signal: controller.signal });
  const events: { gpu_id: string; status: string; owner_id: string }[] = [];
  let text = '';
  if (res.ok) {
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) {
          text += decoder.decode(chunk as Uint8Array, { stream: true });
          const blocks = text.split('\n\n');
          text = blocks.pop()!;
          for (const b of blocks) {
            const data = b.split('\n').find((l) => l.startsWith('data: '));
            if (data) events.push(JSON.parse(data.slice(6)));
          }
        }
      } catch {
        // aborted
      }
    })();
  }
  return { res, events, close: () => controller.abort() };
}

describe('GET /v1/events/gpus (server-sent events)', function () {
  this.timeout(60_000);
  let mesh: TestMesh & { prefix: string };
  const streams: { close(): void }[] = [];
  const register = async (key: string, miner: string) => {
    const res = await http(mesh.url, 'POST', '/v1/marketplace/gpu/register', {
      key, headers: { 'X-Miner-ID': miner }, body: { gpu: { name: 'RTX 3090', memory_gb: 24, price_per_hour: 1 } },
    });
    assert.equal(res.status, 201);
    return res.body.gpu_id as string;
  };
  const offline = (key: string, miner: string) => http(mesh.url, 'POST', '/v1/miners/heartbeat', {
    key, headers: { 'X-Miner-ID': miner }, body: { inflight: 0, status: 'OFFLINE', metadata: {} },
  });

  before(async () => { mesh = await startTestMesh(); });
  after(async () => {
    for (const s of streams) s.close();
    await mesh?.stop();
  });

  it('needs a key (401), and streams text/event-stream', async () => {
    assert.equal((await fetch(`${mesh.url}/v1/events/gpus`)).status, 401);
    const s = await openStream(mesh.url, KEYS.client);
    streams.push(s);
    assert.equal(s.res.status, 200);
    assert.match(s.res.headers.get('content-type') ?? '', /^text\/event-stream/);
    s.close();
  });

  it("gives a provider its own GPUs' changes only, admins and clients everyone's", async () => {
    const acme = await openStream(mesh.url, KEYS.provider);
    const admin = await openStream(mesh.url, KEYS.admin);
    const client = await openStream(mesh.url, KEYS.client);
    streams.push(acme, admin, client);
    const mine = await register(KEYS.provider, 'sse-a');
    const theirs = await register(KEYS.provider2, 'sse-b');
    assert.equal((await offline(KEYS.provider, 'sse-a')).status, 200);
    assert.equal((await offline(KEYS.provider2, 'sse-b')).status, 200);
    const offlineOf = (events: { gpu_id: string; status: string }[], id: string) => events.some((e) => e.gpu_id === id && e.status === 'offline');
    await waitFor(() => [mine, theirs].every((id) => offlineOf(admin.events, id) && offlineOf(client.events, id)), 10_000, 'both changes');
    await waitFor(() => offlineOf(acme.events, mine), 5000, "acme's change");
    assert.ok(acme.events.every((e) => e.owner_id === 'acme'), JSON.stringify(acme.events));
  });

  it('allows 5 open streams per account, 429 beyond; a closed one frees its place', async () => {
    const open = [];
    for (let i = 0; i < 5; i++) open.push(await openStream(mesh.url, KEYS.client2));
    streams.push(...open);
    assert.deepEqual(open.map((s) => s.res.status), [200, 200, 200, 200, 200]);
    const refused = await openStream(mesh.url, KEYS.client2);
    assert.equal(refused.res.status, 429);
    assert.ok(refused.res.headers.get('retry-after'));
    // Another account is unaffected.
    const other = await openStream(mesh.url, KEYS.admin);
    streams.push(other);
    assert.equal(other.res.status, 200);
    open[0].close();
    await waitFor(async () => {
      const again = await openStream(mesh.url, KEYS.client2);
      streams.push(again);
      return again.res.status === 200;
    }, 5000, 'a freed place');
  });
});
