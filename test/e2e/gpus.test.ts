import { request } from 'node:http';
import assert from 'node:assert/strict';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

/** The body `aitbc marketplace gpu register` sends. */
const cliRegisterBody = (over: Record<string, unknown> = {}) => ({
  gpu: { name: 'RTX 4090', memory_gb: 24, cuda_cores: 16384, compute_capability: '8.9', price_per_hour: 0.5, description: 'rig one', ...over },
});

describe('GPU endpoints through the gateway', () => {
  let mesh: TestMesh;
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  const register = (key: string, body: unknown = cliRegisterBody(), minerId = 'default') =>
    call('POST', '/v1/marketplace/gpu/register', { key, body, headers: { 'X-Miner-ID': minerId } });
  /** Every stored GPU row, to prove that a rejected request changed nothing. */
  const snapshot = () => mesh.db('gpus').orderBy('id').select();

  before(async () => {
    mesh = await startTestMesh();
  });
  after(async () => {
    await mesh?.stop();
  });

  describe('register', () => {
    it('registers with the CLI body: 201 with gpu_id, status and the GPU', async () => {
      const res = await register(KEYS.provider, cliRegisterBody(), 'rig-1');
      assert.equal(res.status, 201);
      assert.equal(res.body.status, 'registered');
      assert.match(res.body.gpu_id, /^gpu_[0-9a-z]{20}$/);
      const gpu = res.body.gpu;
      assert.equal(gpu.id, res.body.gpu_id);
      assert.equal(gpu.owner_id, 'acme');
      assert.equal(gpu.miner_id, 'rig-1');
      assert.equal(gpu.model, 'RTX 4090');
      assert.equal(gpu.memory_gb, 24);
      assert.equal(gpu.cuda_cores, 16384);
      assert.equal(gpu.compute_capability, '8.9');
      assert.equal(gpu.price_per_hour, 0.5);
      assert.equal(gpu.status, 'available');
      assert.equal(gpu.booking_expires, null);
      assert.equal(gpu.average_rating, 0);
      assert.match(gpu.created_at, /Z$/);
      const stored = await mesh.db('gpus').where({ id: gpu.id }).first();
      assert.equal(stored.price_micro, 500_000);
    });

    it("takes nvidia-smi's MiB as the CLI sends it without --memory (143771 → 140 GB) and shows the stored value", async () => {
      const res = await register(KEYS.provider, cliRegisterBody({ name: 'NVIDIA H200', memory_gb: 143771, uuid: 'GPU-h200-mib' }), 'rig-mib');
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.body.gpu.memory_gb, 140);
      const listed = await http(mesh.url, 'GET', '/v1/marketplace/gpu/list?memory_min=140&miner_id=rig-mib', { key: KEYS.client });
      assert.deepEqual(listed.body.map((g: { id: string }) => g.id), [res.body.gpu_id]);
    });

    it('accepts the aliases memory and model and the optional fields', async () => {
      const res = await register(KEYS.provider, {
        gpu: { model: 'A100-SXM4-80GB', memory: 80, price_per_hour: 2.25, uuid: 'GPU-1a2b3c4d-0000-1111-2222-333344445555',
          cuda_version: '12.4', region: 'eu-west', capabilities: ['fp16', 'nvlink'] },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.gpu.model, 'A100-SXM4-80GB');
      assert.equal(res.body.gpu.memory_gb, 80);
      assert.equal(res.body.gpu.uuid, 'GPU-1a2b3c4d-0000-1111-2222-333344445555');
      assert.deepEqual(res.body.gpu.capabilities, ['fp16', 'nvlink']);
      assert.equal(res.body.gpu.miner_id, 'default');
    });

    it('updates (200) instead of duplicating when the same miner repeats a uuid', async () => {
      const uuid = 'GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
      const first = await register(KEYS.provider, cliRegisterBody({ uuid }), 'rig-u');
      const second = await register(KEYS.provider, cliRegisterBody({ uuid, price_per_hour: 0.75 }), 'rig-u');
      assert.equal(first.status, 201);
      assert.equal(second.status, 200);
      assert.equal(second.body.gpu_id, first.body.gpu_id);
      assert.equal(second.body.gpu.price_per_hour, 0.75);
      assert.equal(second.body.gpu.description, 'rig one');
      const rows = await mesh.db('gpus').where({ uuid });
      assert.equal(rows.length, 1);
      // Another of the account's miners reporting the same UUID would list one GPU twice: refused.
      const other = await register(KEYS.provider, cliRegisterBody({ uuid }), 'rig-v');
      assert.equal(other.status, 409, JSON.stringify(other.body));
      assert.equal(other.body.field, 'uuid');
      // Another account's is its own claim (a UUID is self-reported; see the README).
      assert.equal((await register(KEYS.provider2, cliRegisterBody({ uuid }), 'rig-u')).status, 201);
    });

    it('accepts Authorization: Bearer as well as X-Api-Key', async () => {
      const res = await call('POST', '/v1/marketplace/gpu/register', {
        body: cliRegisterBody(), headers: { Authorization: `Bearer ${KEYS.provider2}` },
      });
      assert.equal(res.status, 201);
      assert.equal(res.body.gpu.owner_id, 'beta');
      // Both headers naming different keys: neither is guessed at.
      const before = await mesh.db('gpus').count({ n: '*' });
      const both = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, body: cliRegisterBody(), headers: { Authorization: `Bearer ${KEYS.provider2}` } });
      assert.equal(both.status, 401);
      assert.match(both.body.detail, /more than one API key/);
      assert.deepEqual(await mesh.db('gpus').count({ n: '*' }), before);
      // The same header twice (Node would keep the first Authorization silently).
      const twice = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${mesh.url}/v1/marketplace/gpu/list`, { headers: ['Host', new URL(mesh.url).host, 'Authorization', `Bearer ${KEYS.client}`, 'Authorization', `Bearer ${KEYS.client2}`] as never }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(twice.status, 401, twice.body);
      const same = await call('GET', '/v1/marketplace/gpu/list', { key: KEYS.provider, headers: { Authorization: `Bearer ${KEYS.provider}` } });
      assert.equal(same.status, 200, 'the same key twice is one key');
    });

    const badBodies: [string, unknown, string][] = [
      ['missing price', { gpu: { name: 'X', memory_gb: 8 } }, 'gpu.price_per_hour'],
      ['negative price', cliRegisterBody({ price_per_hour: -1 }), 'gpu.price_per_hour'],
      ['zero price', cliRegisterBody({ price_per_hour: 0 }), 'gpu.price_per_hour'],
      ['price with 7 decimals', cliRegisterBody({ price_per_hour: 0.1234567 }), 'gpu.price_per_hour'],
      ['price as text', cliRegisterBody({ price_per_hour: 'cheap' }), 'gpu.price_per_hour'],
      ['memory 0', cliRegisterBody({ memory_gb: 0 }), 'gpu.memory_gb'],
      ['memory too large (over 4096 GB in MiB)', cliRegisterBody({ memory_gb: 4096 * 1024 + 1 }), 'gpu.memory_gb'],
      ['memory fractional', cliRegisterBody({ memory_gb: 2.5 }), 'gpu.memory_gb'],
      ['memory as text', cliRegisterBody({ memory_gb: '24' }), 'gpu.memory_gb'],
      ['unknown field', cliRegisterBody({ colour: 'green' }), 'gpu.colour'],
      ['unknown top-level field', { ...cliRegisterBody(), extra: 1 }, 'extra'],
      ['no gpu object', { name: 'RTX 4090' }, 'gpu'],
      ['missing name', { gpu: { memory_gb: 24, price_per_hour: 1 } }, 'gpu.name'],
      ['name too long', cliRegisterBody({ name: 'x'.repeat(101) }), 'gpu.name'],
      ['bad compute capability', cliRegisterBody({ compute_capability: 'eight' }), 'compute_capability'],
      ['negative cuda cores', cliRegisterBody({ cuda_cores: -1 }), 'gpu.cuda_cores'],
      ['bad uuid', cliRegisterBody({ uuid: 'has spaces' }), 'gpu.uuid'],
      ['array body', [1, 2], ''],
    ];
    for (const [label, body, field] of badBodies) {
      it(`refuses ${label} with 400 naming ${field || 'the body'}, storing nothing`, async () => {
        const before = await snapshot();
        const res = await register(KEYS.provider, body);
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
        assert.equal(res.body.status, 400);
        assert.equal(res.body.title, 'Bad Request');
        if (field) assert.ok(String(res.body.detail).includes(field), `detail "${res.body.detail}" should name ${field}`);
        assert.deepEqual(await snapshot(), before);
      });
    }

    it('refuses malformed JSON, a wrong content type and a huge body', async () => {
      const before = await snapshot();
      const bad = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, rawBody: '{"gpu":', headers: { 'Content-Type': 'application/json' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.type, 'urn:aitbc:problem:bad-request');
      const text = await call('POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, rawBody: 'gpu', headers: { 'Content-Type': 'text/plain' } });
      assert.equal(text.status, 415);
      const huge = await register(KEYS.provider, cliRegisterBody({ description: 'x'.repeat(200_000) }));
      assert.equal(huge.status, 413);
      assert.match(huge.body.detail, /too large/i);
      const badMiner = await register(KEYS.provider, cliRegisterBody(), '../../etc');
      assert.equal(badMiner.status, 400);
      assert.match(badMiner.body.detail, /x-miner-id/i);
      assert.deepEqual(await snapshot(), before);
    });

    it('refuses no key, an empty key and an unknown key with 401, and a client key with 403', async () => {
      const before = await snapshot();
      const none = await call('POST', '/v1/marketplace/gpu/register', { body: cliRegisterBody() });
      assert.equal(none.status, 401);
      assert.match(none.body.detail, /missing API key/);
      const empty = await register('', cliRegisterBody());
      assert.equal(empty.status, 401);
      const unknown = await register('no-such-key-here', cliRegisterBody());
      assert.equal(unknown.status, 401);
      assert.match(unknown.body.detail, /unknown API key/);
      const client = await register(KEYS.client, cliRegisterBody());
      assert.equal(client.status, 403);
      assert.match(client.body.detail, /provider or admin/);
      assert.deepEqual(await snapshot(), before);
    });
  });

  describe('list and details', () => {
    let ids: string[] = [];
    before(async () => {
      await mesh.db('gpus').del();
      const specs = [
        { name: 'NVIDIA GeForce RTX 4090', memory_gb: 24, price_per_hour: 0.9, region: 'eu-west' },
        { name: 'RTX 3090', memory_gb: 24, price_per_hour: 0.4, region: 'us-east' },
        { name: 'A100-SXM4-80GB', memory_gb: 80, price_per_hour: 2.1, region: 'eu-west' },
        { name: 'H100 80GB', memory_gb: 80, price_per_hour: 3.5, region: 'us-east' },
        { name: 'RTX 4090', memory_gb: 24, price_per_hour: 0.7, region: 'ap-south' },
      ];
      ids = [];
      for (const [i, spec] of specs.entries()) {
        const res = await register(i % 2 ? KEYS.provider2 : KEYS.provider, { gpu: spec }, `rig-${i}`);
        assert.equal(res.status, 201);
        ids.push(res.body.gpu_id);
      }
      // One of them stopped sending heartbeats long ago, one is booked (booking projection).
      await mesh.db('gpus').where({ id: ids[3] }).update({ online: false, last_heartbeat_at: new Date(Date.now() - 3_600_000) });
      await mesh.db('gpus').where({ id: ids[1] }).update({ booking_expires: new Date(Date.now() + 3_600_000), current_booking_id: 'bkg_x' });
      // Ratings as the reviews projection would keep them.
      for (const [i, rating] of [4.5, 3, 5, 1.5, 2.25].entries()) await mesh.db('gpus').where({ id: ids[i] }).update({ average_rating: rating });
    });

    const list = async (query: string, key = KEYS.client) => {
      const res = await call('GET', `/v1/marketplace/gpu/list?${query}`, { key });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(Array.isArray(res.body));
      return res;
    };

    it('answers the CLI query with an array whose items carry id', async () => {
      const res = await list('limit=20');
      assert.equal(res.body.length, 5);
      for (const gpu of res.body) assert.match(gpu.id, /^gpu_/);
      // Newest first by default.
      assert.deepEqual(res.body.map((g: { id: string }) => g.id), [...ids].reverse());
    });

    it('filters by availability, status, model wildcards, memory, price, region, miner and rating', async () => {
      const names = async (q: string) => (await list(q)).body.map((g: { model: string }) => g.model).sort();
      assert.deepEqual(await names('limit=20&available=true'), ['A100-SXM4-80GB', 'NVIDIA GeForce RTX 4090', 'RTX 4090']);
      assert.deepEqual(await names('status=booked'), ['RTX 3090']);
      assert.deepEqual(await names('status=offline'), ['H100 80GB']);
      assert.deepEqual(await names('model=rtx 4090'), ['NVIDIA GeForce RTX 4090', 'RTX 4090']);
      assert.deepEqual(await names('model=rtx4090'), ['NVIDIA GeForce RTX 4090', 'RTX 4090']);
      assert.deepEqual(await names('model=RTX*90'), ['NVIDIA GeForce RTX 4090', 'RTX 3090', 'RTX 4090']);
      assert.deepEqual(await names('model=?100'), ['A100-SXM4-80GB', 'H100 80GB']);
      assert.deepEqual(await names('model=%25'), []);
      assert.deepEqual(await names('memory_min=80'), ['A100-SXM4-80GB', 'H100 80GB']);
      assert.deepEqual(await names('price_max=0.7'), ['RTX 3090', 'RTX 4090']);
      assert.deepEqual(await names('price_min=2&price_max=3'), ['A100-SXM4-80GB']);
      assert.deepEqual(await names('region=EU-WEST'), ['A100-SXM4-80GB', 'NVIDIA GeForce RTX 4090']);
      assert.deepEqual(await names('miner_id=rig-2'), ['A100-SXM4-80GB']);
      assert.deepEqual(await names('min_rating=4'), ['A100-SXM4-80GB', 'NVIDIA GeForce RTX 4090']);
      assert.deepEqual(await names('min_rating=5.0'), ['A100-SXM4-80GB']);
      assert.deepEqual(await names('available=true&model=4090&price_max=0.8'), ['RTX 4090']);
    });

    it("filters by owner, and owner_id=me is the caller's own GPUs", async () => {
      const names = async (q: string, key?: string) => (await list(q, key)).body.map((g: { model: string }) => g.model).sort();
      assert.deepEqual(await names('owner_id=beta'), ['H100 80GB', 'RTX 3090']);
      assert.deepEqual(await names('owner_id=me', KEYS.provider2), ['H100 80GB', 'RTX 3090']);
      assert.deepEqual(await names('owner_id=ME&available=true', KEYS.provider), ['A100-SXM4-80GB', 'NVIDIA GeForce RTX 4090', 'RTX 4090']);
      assert.deepEqual(await names('owner_id=me', KEYS.client), [], 'a client owns no GPU');
      assert.deepEqual(await names('owner_id=nobody'), []);
      const prices = (await list('owner_id=acme&sort=-price')).body.map((g: { price_per_hour: number }) => g.price_per_hour);
      assert.deepEqual(prices, [2.1, 0.9, 0.7]);
      // Pages of "me" are the caller's: the next link keeps owner_id=me and goes on with the same owner.
      const first = await list('owner_id=me&limit=2', KEYS.provider);
      const next = await call('GET', `/v1/marketplace/gpu/list?owner_id=me&limit=2&cursor=${first.headers.get('x-next-cursor')}`, { key: KEYS.provider });
      assert.deepEqual([...first.body, ...next.body].map((g: { id: string }) => g.id), [ids[4], ids[2], ids[0]]);
    });

    it('sorts by price, rating and memory both ways', async () => {
      const prices = async (q: string) => (await list(q)).body.map((g: { price_per_hour: number }) => g.price_per_hour);
      assert.deepEqual(await prices('sort=price'), [0.4, 0.7, 0.9, 2.1, 3.5]);
      assert.deepEqual(await prices('sort=-price'), [3.5, 2.1, 0.9, 0.7, 0.4]);
      const mem = (await list('sort=-memory')).body.map((g: { memory_gb: number }) => g.memory_gb);
      assert.deepEqual(mem, [80, 80, 24, 24, 24]);
      const ratings = async (q: string) => (await list(q)).body.map((g: { average_rating: number }) => g.average_rating);
      assert.deepEqual(await ratings('sort=rating'), [1.5, 2.25, 3, 4.5, 5]);
      assert.deepEqual(await ratings('sort=-rating'), [5, 4.5, 3, 2.25, 1.5]);
    });

    it('pages with X-Next-Cursor and Link until every GPU was seen once', async () => {
      for (const sort of ['newest', 'price', '-price', 'memory', '-rating']) {
        const seen: string[] = [];
        let path = `/v1/marketplace/gpu/list?limit=2&sort=${sort}`;
        for (let page = 0; page < 10; page++) {
          const res = await call('GET', path, { key: KEYS.client });
          assert.equal(res.status, 200);
          seen.push(...res.body.map((g: { id: string }) => g.id));
          const next = res.headers.get('x-next-cursor');
          if (!next) {
            assert.equal(res.headers.get('link'), null);
            break;
          }
          const link = res.headers.get('link')!;
          const match = /^<([^>]+)>; rel="next"$/.exec(link);
          assert.ok(match, link);
          assert.ok(match[1].includes(`cursor=${next}`));
          path = match[1];
        }
        assert.equal(seen.length, 5, sort);
        assert.equal(new Set(seen).size, 5, sort);
      }
    });

    const badQueries: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=501', 'limit'],
      ['limit=ten', 'limit'],
      ['available=perhaps', 'available'],
      ['status=sleeping', 'status'],
      ['sort=cheapest', 'sort'],
      ['price_max=-1', 'price_max'],
      ['price_max=0.1234567', 'price_max'],
      ['min_rating=6', 'min_rating'],
      ['memory_min=-4', 'memory_min'],
      ['cursor=garbage!!', 'cursor'],
      ['colour=red', 'colour'],
      ['owner_id=a%20b', 'owner_id'],
      ['owner_id=', 'owner_id'],
      ['price_min=3&price_max=1', 'price_min'],
      // Percent-escapes that are not UTF-8 (an encoded surrogate, a stray byte, a cut sequence).
      ['model=%ED%A0%80', 'model'],
      ['region=%FF', 'region'],
      ['available=true&model=RTX%C3', 'model'],
    ];
    for (const [query, field] of badQueries) {
      it(`refuses ${query} with 400 naming ${field}`, async () => {
        const res = await call('GET', `/v1/marketplace/gpu/list?${query}`, { key: KEYS.client });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.ok(String(res.body.detail).includes(field), res.body.detail);
      });
    }

    it('refuses a cursor made for another sort', async () => {
      const first = await call('GET', '/v1/marketplace/gpu/list?limit=1&sort=price', { key: KEYS.client });
      const cursor = first.headers.get('x-next-cursor');
      assert.ok(cursor);
      const res = await call('GET', `/v1/marketplace/gpu/list?limit=1&sort=memory&cursor=${cursor}`, { key: KEYS.client });
      assert.equal(res.status, 400);
      assert.match(res.body.detail, /cursor: belongs to sort=price/);
    });

    it('shows details to any key, and 404s unknown or malformed ids', async () => {
      const res = await call('GET', `/v1/marketplace/gpu/${ids[1]}`, { key: KEYS.client });
      assert.equal(res.status, 200);
      assert.equal(res.body.id, ids[1]);
      assert.equal(res.body.status, 'booked');
      assert.match(res.body.booking_expires, /Z$/);
      for (const id of ['gpu_00000000000000000000', 'nope', '%2e%2e']) {
        const missing = await call('GET', `/v1/marketplace/gpu/${id}`, { key: KEYS.client });
        assert.equal(missing.status, 404, id);
        assert.equal(missing.body.title, 'Not Found');
      }
      const noKey = await call('GET', `/v1/marketplace/gpu/${ids[0]}`);
      assert.equal(noKey.status, 401);
    });

    it('needs a key for the list', async () => {
      assert.equal((await call('GET', '/v1/marketplace/gpu/list?limit=20')).status, 401);
      assert.equal((await call('GET', '/v1/marketplace/gpu/list?limit=20', { key: '' })).status, 401);
    });
  });

  describe('unregister', () => {
    it('lets the owner unregister with exactly 200; the GPU leaves lists and details, its row stays', async () => {
      const { body } = await register(KEYS.provider);
      const res = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}?force=false`, { key: KEYS.provider });
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'unregistered');
      assert.equal(res.body.gpu_id, body.gpu_id);
      assert.equal((await call('GET', `/v1/marketplace/gpu/${body.gpu_id}`, { key: KEYS.client })).status, 404);
      const listed = await call('GET', '/v1/marketplace/gpu/list?limit=500', { key: KEYS.client });
      assert.ok(!listed.body.some((g: { id: string }) => g.id === body.gpu_id));
      const row = await mesh.db('gpus').where({ id: body.gpu_id }).first();
      assert.ok(row.deleted_at instanceof Date);
      const again = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}`, { key: KEYS.provider });
      assert.equal(again.status, 404);
    });

    it("answers 404 to a provider deleting another provider's GPU, 403 to a client, and changes nothing", async () => {
      const { body } = await register(KEYS.provider);
      const before = await snapshot();
      const other = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}`, { key: KEYS.provider2 });
      assert.equal(other.status, 404);
      const client = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}`, { key: KEYS.client });
      assert.equal(client.status, 403);
      const unknown = await call('DELETE', '/v1/marketplace/gpu/gpu_00000000000000000000', { key: KEYS.provider });
      assert.equal(unknown.status, 404);
      const badForce = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}?force=maybe`, { key: KEYS.provider });
      assert.equal(badForce.status, 400);
      assert.deepEqual(await snapshot(), before);
      const admin = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}`, { key: KEYS.admin });
      assert.equal(admin.status, 200);
    });

    it('refuses a booked GPU with 409 unless force=true', async () => {
      const { body } = await register(KEYS.provider);
      await mesh.db('gpus').where({ id: body.gpu_id }).update({ booking_expires: new Date(Date.now() + 600_000) });
      const res = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}?force=false`, { key: KEYS.provider });
      assert.equal(res.status, 409);
      assert.match(res.body.detail, /force=true/);
      assert.equal((await call('GET', `/v1/marketplace/gpu/${body.gpu_id}`, { key: KEYS.client })).status, 200);
      const forced = await call('DELETE', `/v1/marketplace/gpu/${body.gpu_id}?force=true`, { key: KEYS.provider });
      assert.equal(forced.status, 200);
    });
  });
});
