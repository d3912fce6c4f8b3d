import assert from 'node:assert/strict';
import { Role } from '../../lib/caller';
import type { DomainError } from '../../lib/errors';
import { RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { connect } from '../../lib/grpcClient';
import { asCaller, http, KEYS, SERVICE_KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

const acme = { accountId: 'acme', role: Role.ROLE_PROVIDER };

/** Pages answered so far by the gateway's list replica and by the registry (its /metrics). */
async function answered(url: string): Promise<{ replica: number; registry: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (source: string) => Number(new RegExp(`^aitbc_gateway_gpu_list_answers_total\\{[^}]*source="${source}"[^}]*\\} (\\S+)`, 'm').exec(text)?.[1] ?? 0);
  return { replica: read('replica'), registry: read('registry') };
}

describe('GPU lists from the gateway\'s replica (the mesh as npm start runs it)', () => {
  let mesh: TestMesh;
  const list = (query: string, key = KEYS.client) => http(mesh.url, 'GET', `/v1/marketplace/gpu/list?${query}`, { key });
  const register = (model: string, miner = 'rep-rig') => mesh.registryClient.client.registerGpu({
    caller: acme, minerId: miner, spec: { uuid: '', model, memoryGb: 24, pricePerHourMicro: 400000, capabilities: [], setCapabilities: false },
  });

  before(async () => {
    // Polling that never comes by itself: only the pass each list waits for can show a write.
    mesh = await startTestMesh({ GPU_LIST_REPLICA_POLL_MS: '60000' });
  });
  after(() => mesh?.stop());

  it('shows a write made past the gateway (straight to the registry) in the very next list, for 30 writers at once', async () => {
    await list('limit=1');
    const before = await answered(mesh.url);
    const results = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const { gpu } = await register(`Replica ${i}x`);
      const res = await list(`model=${encodeURIComponent(`Replica ${i}x`)}&limit=5`);
      return { id: gpu!.id, listed: (res.body as { id: string }[]).map((g) => g.id), status: res.status };
    }));
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.deepEqual(r.listed, [r.id]);
    }
    const after = await answered(mesh.url);
    assert.equal(after.replica - before.replica, 30, 'every one of them answered by the replica');
    assert.equal(after.registry - before.registry, 0);
  });

  it('shows what the registry changes by itself (a GPU going offline) at the next list, and a REST unregister at once', async () => {
    const { gpu } = await register('Replica Offline', 'rep-offline');
    assert.equal((await list('miner_id=rep-offline')).body[0].status, 'available');
    await mesh.db('gpus').where({ id: gpu!.id }).update({ online: false });
    assert.equal((await list('miner_id=rep-offline')).body[0].status, 'offline');
    const gone = await http(mesh.url, 'DELETE', `/v1/marketplace/gpu/${gpu!.id}`, { key: KEYS.provider });
    assert.equal(gone.status, 200);
    assert.deepEqual((await list('miner_id=rep-offline')).body, []);
  });

  it('pages with the registry\'s cursors: the second page goes on where the whole list says', async () => {
    for (let i = 0; i < 9; i++) await register(`Replica Page ${i}`, 'rep-pages');
    const first = await list('miner_id=rep-pages&limit=4&sort=price');
    const cursor = first.headers.get('x-next-cursor');
    assert.ok(cursor);
    const second = await list(`miner_id=rep-pages&limit=4&sort=price&cursor=${encodeURIComponent(cursor)}`);
    const all = await list('miner_id=rep-pages&limit=100&sort=price');
    assert.deepEqual([...first.body, ...second.body].map((g: { id: string }) => g.id), all.body.slice(0, 8).map((g: { id: string }) => g.id));
  });

  it('keeps the change feed to mesh services: a user forwarded by the gateway is refused, a user key is unknown', async () => {
    const forwarded = mesh.registryClient.client.listGpuChanges({ caller: acme, afterChange: '0', afterGpuId: '', limit: 10 });
    await assert.rejects(forwarded, (e: DomainError) => e.code === 'PERMISSION_DENIED');
    for (const key of [KEYS.provider, KEYS.client, KEYS.admin]) {
      const direct = connect(RegistryServiceClient, mesh.registry.address, 2000, asCaller(key));
      // The registry knows no user key at all (only the gateway's forwards users).
      await assert.rejects(direct.client.listGpuChanges({ afterChange: '0', afterGpuId: '', limit: 10 }), (e: DomainError) => e.code === 'UNAUTHENTICATED');
      direct.close();
    }
    const asGateway = connect(RegistryServiceClient, mesh.registry.address, 2000, asCaller(SERVICE_KEYS.gateway));
    const feed = await asGateway.client.listGpuChanges({ afterChange: '0', afterGpuId: '', limit: 5 });
    assert.equal(feed.changes.length, 5);
    asGateway.close();
  });
});
