import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { type ConnectResponse, MinerServiceClient } from '../../lib/gen/aitbc/marketplace/v1/miner';
import { waitFor } from '../support/events';
import { Role } from '../../lib/caller';
import type { DomainError } from '../../lib/errors';
import { AccountsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import { http, KEYS, startTestMesh, testClient, type TestMesh } from '../support/testMesh';

/** A miner stream's first answer: a welcome, or the status that ended it. */
async function minerLogin(address: string, key: string): Promise<string> {
  const client = new MinerServiceClient(address, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  const stream = client.connect(metadata);
  let outcome: string | undefined;
  stream.on('data', (m: ConnectResponse) => (outcome ??= m.kind?.$case));
  stream.on('error', (err: grpc.ServiceError) => (outcome ??= grpc.status[err.code]));
  stream.write({ kind: { $case: 'hello', value: { minerId: 'key-rig', agentVersion: 't', gpus: [
    { uuid: 'GPU-key-1', model: 'L4', memoryGb: 24, cudaCores: 0, cudaVersion: '', driverVersion: '', computeCapability: '', region: '', pricePerHourMicro: 500_000 },
  ] } } });
  await waitFor(() => outcome !== undefined, 5000, 'the miner stream to answer');
  stream.end();
  client.close();
  return outcome!;
}

describe('API keys kept by the accounts service', function () {
  this.timeout(60_000);
  let mesh: TestMesh;
  const logged: string[] = [];
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);
  before(async () => {
    // Every log line of every part, at debug, to look for secrets in.
    mesh = await startTestMesh({}, { pricing: false, logLevel: 'debug', logSink: { write: (line: string) => void logged.push(line) } });
  });
  after(() => mesh?.stop());

  it('creates a key that works at once on REST and on the miner port, and stops working within 2 s of its revocation at both', async () => {
    const account = await call('POST', '/v1/accounts', { key: KEYS.admin, body: { role: 'provider', account_id: 'newco', display_name: 'New Co' } });
    assert.equal(account.status, 201, JSON.stringify(account.body));
    const created = await call('POST', '/v1/accounts/newco/keys', { key: KEYS.admin, body: { label: 'rig key' } });
    assert.equal(created.status, 201);
    const { key: secret, key_id: keyId } = created.body;
    assert.match(secret, /^aitbc_provider_/);
    assert.equal((await call('GET', '/v1/accounts/me', { key: secret })).body.account_id, 'newco');
    assert.equal(await minerLogin(mesh.registry.publicAddress!, secret), 'welcome');
    // Listed without its secret.
    const listed = (await call('GET', '/v1/accounts/newco/keys', { key: KEYS.admin })).body;
    assert.deepEqual(listed.map((k: { key_id: string }) => k.key_id), [keyId]);
    assert.ok(!JSON.stringify(listed).includes(secret));
    // A second key for rotation, self-service; then the first one revoked by its owner.
    const second = await call('POST', '/v1/accounts/me/keys', { key: secret, body: { label: 'rotated' } });
    assert.equal(second.status, 201);
    const revoked = await call('DELETE', `/v1/accounts/me/keys/${keyId}`, { key: second.body.key });
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revoked_at);
    const started = Date.now();
    await waitFor(async () => (await call('GET', '/v1/accounts/me', { key: secret })).status === 401, 2000, 'REST to refuse the revoked key');
    await waitFor(async () => (await minerLogin(mesh.registry.publicAddress!, secret)) === 'UNAUTHENTICATED', Math.max(100, 2000 - (Date.now() - started)), 'the miner port to refuse it');
    process.stdout.write(`      (revoked key refused at both after ${Date.now() - started} ms)\n`);
    assert.equal((await call('GET', '/v1/accounts/me', { key: second.body.key })).status, 200, 'the new key works');
    // Admin revokes any key; another account's key is not the owner's to revoke.
    assert.equal((await call('DELETE', `/v1/accounts/me/keys/${second.body.key_id}`, { key: KEYS.provider })).status, 404);
    assert.equal((await call('DELETE', `/v1/keys/${second.body.key_id}`, { key: KEYS.provider })).status, 403);
    assert.equal((await call('DELETE', `/v1/keys/${second.body.key_id}`, { key: KEYS.admin })).status, 200);

    // The secrets are nowhere in clear: not in any table, not in any log line.
    const { rows } = await mesh.db.raw(`SELECT table_schema AS s, table_name AS t FROM information_schema.tables
      WHERE table_schema IN ('accounts', 'registry', 'booking', 'reviews') AND table_type = 'BASE TABLE'`);
    for (const { s, t } of rows as { s: string; t: string }[]) {
      for (const key of [secret, second.body.key, KEYS.client, KEYS.admin]) {
        const found = await mesh.db.raw(`SELECT count(*) AS n FROM "${s}"."${t}" x WHERE x::text LIKE ? OR encode(convert_to(x::text, 'UTF8'), 'escape') LIKE ?`, [`%${key}%`, `%${key}%`]);
        assert.equal(Number(found.rows[0].n), 0, `${key.slice(0, 12)}… found in ${s}.${t}`);
      }
    }
    assert.ok(logged.length > 50, `only ${logged.length} log lines`);
    for (const key of [secret, second.body.key, KEYS.client, KEYS.admin, KEYS.provider]) {
      assert.ok(!logged.some((l) => l.includes(key)), `${key.slice(0, 12)}… found in a log line`);
    }
  });

  it('a key revoked a moment ago mints no key (checked fresh, not from the cache), and an account holds at most 20 live keys', async () => {
    assert.equal((await call('POST', '/v1/accounts', { key: KEYS.admin, body: { role: 'client', account_id: 'thief-target' } })).status, 201);
    const stolen = (await call('POST', '/v1/accounts/thief-target/keys', { key: KEYS.admin, body: {} })).body;
    // Used once, so the gateway has it cached; revoked; then at once used to mint a key.
    assert.equal((await call('GET', '/v1/accounts/me', { key: stolen.key })).status, 200);
    assert.equal((await call('DELETE', `/v1/keys/${stolen.key_id}`, { key: KEYS.admin })).status, 200);
    const minted = await call('POST', '/v1/accounts/me/keys', { key: stolen.key, body: { label: 'survivor' } });
    assert.equal(minted.status, 401, JSON.stringify(minted.body));
    // Nor does it pay (irreversible) or leave a standing order behind.
    assert.equal((await call('POST', '/v1/payments/send', { key: stolen.key, body: { booking_id: 'bkg_aaaaaaaaaaaaaaaaaaaa', amount: 1 } })).status, 401);
    assert.equal((await call('POST', '/v1/marketplace/bids', { key: stolen.key, body: { provider: '*', capacity: 1, price: 1 } })).status, 401);
    const live = (await call('GET', '/v1/accounts/thief-target/keys', { key: KEYS.admin })).body.filter((k: { revoked_at: string | null }) => !k.revoked_at);
    assert.deepEqual(live, [], 'no key survived the revocation');
    // Racing its own revocation: every key minted with it is made before the revocation
    // commits (the revocation waits for the mint holding the key's row), never after.
    for (let round = 0; round < 5; round++) {
      const racer = (await call('POST', '/v1/accounts/thief-target/keys', { key: KEYS.admin, body: {} })).body;
      assert.equal((await call('GET', '/v1/accounts/me', { key: racer.key })).status, 200);
      const [revoke, ...mints] = await Promise.all([
        call('DELETE', `/v1/accounts/me/keys/${racer.key_id}`, { key: racer.key }),
        ...Array.from({ length: 4 }, () => call('POST', '/v1/accounts/me/keys', { key: racer.key, body: { label: 'racer' } })),
      ]);
      assert.equal(revoke.status, 200);
      const revokedAt = new Date(revoke.body.revoked_at).getTime();
      for (const m of mints.filter((r) => r.status === 201)) {
        assert.ok(new Date(m.body.created_at).getTime() <= revokedAt, `minted at ${m.body.created_at}, after the revocation at ${revoke.body.revoked_at}`);
      }
      for (const m of mints.filter((r) => r.status === 201)) assert.equal((await call('DELETE', `/v1/keys/${m.body.key_id}`, { key: KEYS.admin })).status, 200);
    }
    // Over gRPC, a forwarder naming a presenting key that is no live key mints nothing.
    const accounts = testClient(AccountsServiceClient, mesh.accounts.address);
    try {
      for (const forged of [Buffer.alloc(32, 7), Buffer.from('\u0000\u001b[2J'), Buffer.alloc(10_000, 1)]) {
        await assert.rejects(accounts.client.createKey({ caller: { accountId: 'thief-target', role: Role.ROLE_CLIENT }, accountId: '', label: 'forged', presenterKeySha256: forged }),
          (err: DomainError) => err.code === 'UNAUTHENTICATED');
      }
    } finally {
      accounts.close();
    }
    const afterForged = (await call('GET', '/v1/accounts/thief-target/keys', { key: KEYS.admin })).body;
    assert.ok(!afterForged.some((k: { label: string }) => k.label === 'forged'), 'no key was made');
    // The cap, raced: 30 requests at once for keys of one account make exactly 20.
    const made = await Promise.all(Array.from({ length: 30 }, () => call('POST', '/v1/accounts/thief-target/keys', { key: KEYS.admin, body: {} })));
    assert.equal(made.filter((r) => r.status === 201).length, 20);
    const refused = made.filter((r) => r.status !== 201);
    assert.ok(refused.every((r) => r.status === 409 && /20 live keys/.test(r.body.detail)), JSON.stringify(refused[0]?.body));
  });
});
