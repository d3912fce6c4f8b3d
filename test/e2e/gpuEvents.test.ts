import assert from 'node:assert/strict';
import { waitFor } from '../support/events';
import { http, KEYS, SERVICE_KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

/** An open GET /v1/events/gpus: the events read so far, and how to close it. */
async function openStream(url: string, key: string) {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/events/gpus`, { headers: { 'X-Api-Key': key }, signal: controller.signal });
  const events: { gpu_id: string; status: string; owner_id: string }[] = [];
  let text = '';
  let ended: Promise<void> = Promise.resolve();
  if (res.ok) {
    ended = (async () => {
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
  return { res, events, ended, close: () => controller.abort() };
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
    // A made-up key, a huge one, a service key (gRPC only), a key in the query: none opens a stream.
    for (const [headers, path, status] of [
      [{ 'X-Api-Key': 'not-a-key-at-all-padded-out-xx' }, '', 401], [{ 'X-Api-Key': 'k'.repeat(5000) }, '', 401],
      [{ 'X-Api-Key': SERVICE_KEYS.coordinator }, '', 403], [{}, `?api_key=${KEYS.client}`, 401],
    ] as const) {
      const res = await fetch(`${mesh.url}/v1/events/gpus${path}`, { headers: headers as Record<string, string>, signal: AbortSignal.timeout(3000) });
      assert.equal(res.status, status, JSON.stringify(headers) + path);
      assert.match(res.headers.get('content-type') ?? '', /problem\+json/);
    }
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

  it('announces a newly registered GPU (reason registered), answers HEAD without holding a stream', async () => {
    const s = await openStream(mesh.url, KEYS.provider);
    streams.push(s);
    const id = await register(KEYS.provider, 'sse-new');
    await waitFor(() => s.events.some((e) => e.gpu_id === id && (e as { reason?: string }).reason === 'registered' && e.status === 'available'), 5000, 'the new GPU');
    s.close();
    const head = await fetch(`${mesh.url}/v1/events/gpus`, { method: 'HEAD', headers: { 'X-Api-Key': KEYS.provider2 }, signal: AbortSignal.timeout(3000) });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /^text\/event-stream/);
  });

  it('gives every place back after clients that vanish at once, and ends the stream of a revoked key', async () => {
    const made = await http(mesh.url, 'POST', '/v1/accounts', { key: KEYS.admin, body: { role: 'client', account_id: 'sse-leaver' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const key = (await http(mesh.url, 'POST', '/v1/accounts/sse-leaver/keys', { key: KEYS.admin, body: { label: 'sse' } })).body;
    // Twenty opens abandoned after 0 to 19 ms, some while the key is still being checked.
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), i);
      await fetch(`${mesh.url}/v1/events/gpus`, { headers: { 'X-Api-Key': key.key }, signal: controller.signal }).catch(() => undefined);
    }));
    await new Promise((r) => setTimeout(r, 500));
    const five = [];
    for (let i = 0; i < 5; i++) five.push(await openStream(mesh.url, key.key));
    streams.push(...five);
    assert.deepEqual(five.map((x) => x.res.status), [200, 200, 200, 200, 200], 'no place leaked');
    let ended = false;
    void five[0].ended.then(() => { ended = true; });
    assert.equal((await http(mesh.url, 'DELETE', `/v1/keys/${key.key_id}`, { key: KEYS.admin })).status, 200);
    await waitFor(() => ended, 10_000, 'the revoked key\'s stream to end');
  });
});
