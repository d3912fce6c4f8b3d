import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Role } from '../../lib/caller';
import { connectDb, openDb, type Knex } from '../../lib/db';
import type { EventBus, Subscription } from '../../lib/events/bus';
import { eventTablesMigration } from '../../lib/events/eventTables';
import { createInboxConsumer } from '../../lib/events/inboxConsumer';
import { connectNatsBus } from '../../lib/events/natsBus';
import { GpuSpec, RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { createLogger } from '../../lib/logger';
import { ROOT } from '../../lib/paths';
import type { RunningService } from '../../lib/service';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import { deleteStream, NATS_URL, testEvent, testPrefix, waitFor } from '../support/events';
import { PrivateNats } from '../support/privateNats';
import { createTestDatabase } from '../support/testDatabase';
import { testClient, KEY_LIST } from '../support/testMesh';

const provider = { accountId: 'acme', role: Role.ROLE_PROVIDER };
const spec = (i: number) => GpuSpec.fromPartial({ model: 'RTX 4090', memoryGb: 24, pricePerHourMicro: 500_000, uuid: `GPU-fault-${i}` });
const silent = createLogger('test', 'silent');
/** Runs a .ts file in this very process (no tsx wrapper process), so signals reach it. */
const TS = ['--require', require.resolve('tsx/cjs')];
const report = (line: string) => process.stdout.write(`      [figures] ${line}\n`);

/** Counts, per event id, how often a test consumer saw it (deliveries, not effects). */
async function countDeliveries(bus: EventBus, durable: string): Promise<{ counts: Map<string, number>; sub: Subscription }> {
  const counts = new Map<string, number>();
  const sub = await bus.consume({
    durable, subjects: [bus.subject('gpu.>')], deadLetter: async () => undefined,
    handle: async (d) => void counts.set(d.envelope.eventId, (counts.get(d.envelope.eventId) ?? 0) + 1),
  });
  return { counts, sub };
}

describe('event backbone under faults (real NATS servers)', function () {
  this.timeout(120_000);

  it('keeps events in the outbox while NATS is unreachable and delivers all of them when it returns', async () => {
    const nats = new PrivateNats();
    const database = await createTestDatabase();
    await nats.start();
    let registry: RunningService | undefined;
    let watcher: EventBus | undefined;
    try {
      const prefix = testPrefix();
      registry = await startRegistry(readRegistryConfig(
        { REGISTRY_PORT: '0', MINER_PORT: '0', NATS_URL: nats.url, NATS_SUBJECT_PREFIX: prefix, LOG_LEVEL: 'silent' },
        { databaseUrl: database.url, apiKeys: KEY_LIST },
      ), silent);
      watcher = await connectNatsBus({ url: nats.url, prefix, name: 'watcher', logger: silent });
      const { counts } = await countDeliveries(watcher, 'watcher');
      const client = testClient(RegistryServiceClient, registry.address, 5000);
      const register = (from: number, n: number) => Promise.all(Array.from({ length: n }, (_, i) =>
        client.client.registerGpu({ caller: provider, minerId: 'rig', spec: spec(from + i) })));

      await register(0, 50);
      await waitFor(() => counts.size === 50, 10_000, '50 events before the outage');

      await nats.kill();
      await register(50, 100); // the API keeps working: events wait in the outbox
      const pendingDuringOutage = Number((await registry.db('outbox').whereNull('published_at').count({ n: '*' }))[0].n);
      assert.equal(pendingDuringOutage, 100);
      await new Promise((r) => setTimeout(r, 2000));

      await nats.start(); // same port, same store: the stream and the durable consumer survive
      await waitFor(async () => Number((await registry!.db('outbox').whereNull('published_at').count({ n: '*' }))[0].n) === 0,
        30_000, 'the outbox to drain');
      await waitFor(() => counts.size === 150, 30_000, 'all 150 events');
      const committed = Number((await registry.db('gpus').count({ n: '*' }))[0].n);
      const lost = committed - counts.size;
      report(`NATS outage: ${committed} registrations, ${pendingDuringOutage} events held in the outbox during the outage, ${counts.size} delivered, lost ${lost}`);
      assert.equal(committed, 150);
      assert.equal(lost, 0);
      client.close();
    } finally {
      await watcher?.close().catch(() => undefined);
      await registry?.stop();
      await nats.destroy();
      await database.drop();
    }
  });

  it('does not apply an effect twice when its consumer is killed between the effect and the ack', async () => {
    const database = await createTestDatabase();
    const prefix = testPrefix();
    const bus = await connectNatsBus({ url: NATS_URL, prefix, name: 'publisher', logger: silent });
    const env = { ...process.env, DATABASE_URL: database.url, NATS_URL, PREFIX: prefix };
    const run = (extra: Record<string, string>) => {
      const child = spawn(process.execPath, [...TS, 'test/support/killableConsumer.ts'], { cwd: ROOT, env: { ...env, ...extra } });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)));
      return { child, output: () => out, exited };
    };
    let second: ReturnType<typeof run> | undefined;
    try {
      const events = Array.from({ length: 5 }, (_, i) => testEvent(bus, `gpu_k${i}`));
      await bus.publish(events.map((e) => e.outgoing));
      const first = run({ KILL_ON_NTH: '3' });
      assert.equal(await first.exited, 'SIGKILL', first.output());
      second = run({});
      // The rest applied, and the killed one back (after its 1 s ack wait, which on a loaded
      // machine can come after the rest: a fixed pause after them was not always enough).
      await waitFor(() => second!.output().split('\n').filter((l) => l.endsWith(' true')).length >= 2
        && second!.output().includes(`delivered ${events[2].envelope.eventId} `), 20_000, 'the rest applied and the killed one redelivered');
      await new Promise((r) => setTimeout(r, 300));
      const db: Knex = connectDb({ url: database.url, schema: 'consumer' });
      const effects: { event_id: string }[] = await db('consumer_effects').select('event_id');
      await db.destroy();
      const ids = effects.map((e) => e.event_id);
      const redelivered = second.output().split('\n').filter((l) => l.startsWith('delivered') && l.endsWith(' false'));
      const duplicates = ids.length - new Set(ids).size;
      report(`consumer SIGKILLed after its 3rd effect, before the ack: ${ids.length} effects for 5 events, ${redelivered.length} redelivery(ies) skipped by the inbox, duplicate effects ${duplicates}`);
      assert.deepEqual([...ids].sort(), events.map((e) => e.envelope.eventId).sort());
      assert.equal(duplicates, 0);
      // The killed one comes back (delivery 2+) and the inbox skips it; on a loaded machine an
      // ack in flight at the kill can bring back an earlier one too, skipped the same way.
      const killed = redelivered.find((l) => l.startsWith(`delivered ${events[2].envelope.eventId} `));
      assert.ok(killed, second.output());
      assert.ok(Number(killed.split(' ')[2]) >= 2, killed);
    } finally {
      second?.child.kill('SIGKILL');
      await bus.close();
      await deleteStream(prefix);
      await database.drop();
    }
  });

  it('loses no event when the registry is SIGKILLed during a burst of 1,000 registrations', async () => {
    const database = await createTestDatabase();
    const prefix = testPrefix();
    const port = 26_000 + Math.floor(Math.random() * 2000);
    const env = { ...process.env, DATABASE_URL: database.url, NATS_URL, NATS_SUBJECT_PREFIX: prefix, REGISTRY_PORT: String(port), MINER_PORT: String(port + 1), AITBC_API_KEYS: KEY_LIST, LOG_LEVEL: 'info' };
    const startChild = async (): Promise<ChildProcess> => {
      const child = spawn(process.execPath, [...TS, 'services/registry/src/main.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      await waitFor(() => out.includes('registry serving') || child.exitCode !== null, 30_000, 'the registry to start');
      if (child.exitCode !== null) throw new Error(out);
      return child;
    };
    let child: ChildProcess | undefined;
    let consumerDb: Knex | undefined;
    let bus: EventBus | undefined;
    let consumer: ReturnType<typeof createInboxConsumer> | undefined;
    let deliveries: { counts: Map<string, number>; sub: Subscription } | undefined;
    try {
      child = await startChild();
      // The effect side: an inbox consumer in a schema of its own, counting applications.
      consumerDb = await openDb({ url: database.url, schema: 'burst', migrations: [eventTablesMigration, {
        name: 'effects', up: async (k) => void (await k.raw('CREATE TABLE effects (event_id text NOT NULL)')),
      }] });
      bus = await connectNatsBus({ url: NATS_URL, prefix, name: 'burst-test', logger: silent });
      const effectsDb = consumerDb;
      consumer = createInboxConsumer({
        db: effectsDb, bus, logger: silent, durable: 'burst', types: ['gpu.>'], ackWaitMs: 2000,
        apply: async (trx, d) => void (await trx('effects').insert({ event_id: d.envelope.eventId })),
      });
      await consumer.start();
      deliveries = await countDeliveries(bus, 'burst-deliveries');

      const client = testClient(RegistryServiceClient, `127.0.0.1:${port}`, 5000);
      let acknowledged = 0;
      let failed = 0;
      let next = 0;
      const victim = child;
      const worker = async () => {
        while (next < 1000) {
          const i = next++;
          try {
            await client.client.registerGpu({ caller: provider, minerId: 'burst', spec: spec(i) });
            if (++acknowledged === 300) victim.kill('SIGKILL');
          } catch {
            failed++;
          }
        }
      };
      await Promise.all(Array.from({ length: 20 }, worker));
      client.close();
      assert.ok(acknowledged >= 300 && failed > 0, `acknowledged ${acknowledged}, failed ${failed}`);

      child = await startChild(); // the restarted registry's relay publishes what was left
      const registryDb = connectDb({ url: database.url, schema: 'registry' });
      try {
        await waitFor(async () => Number((await registryDb('outbox').whereNull('published_at').count({ n: '*' }))[0].n) === 0, 30_000, 'outbox drained');
        const committed = Number((await registryDb('gpus').count({ n: '*' }))[0].n);
        const outboxRows = Number((await registryDb('outbox').where({ type: 'gpu.registered' }).count({ n: '*' }))[0].n);
        await waitFor(async () => Number((await effectsDb('effects').count({ n: '*' }))[0].n) >= outboxRows, 30_000, 'every event applied');
        await new Promise((r) => setTimeout(r, 500));
        const effects: string[] = (await effectsDb('effects').select('event_id')).map((r: { event_id: string }) => r.event_id);
        const duplicates = effects.length - new Set(effects).size;
        const outboxIds = new Set((await registryDb('outbox').select('event_id')).map((r: { event_id: string }) => r.event_id));
        const missing = [...outboxIds].filter((id) => !deliveries!.counts.has(id)).length;
        const redelivered = [...deliveries.counts.values()].filter((n) => n > 1).length;
        report(`SIGKILL during 1,000 registrations: ${acknowledged} acknowledged, ${failed} refused, ${committed} committed, ` +
          `${outboxRows} outbox rows, ${deliveries.counts.size} events delivered (${missing} missing, ${redelivered} delivered twice), ` +
          `${effects.length} effects, duplicate effects ${duplicates}`);
        assert.ok(committed >= acknowledged, 'every acknowledged registration is committed');
        assert.equal(outboxRows, committed, 'one outbox row per committed change');
        assert.equal(missing, 0, 'every event delivered');
        assert.equal(effects.length, committed);
        assert.equal(duplicates, 0);
      } finally {
        await registryDb.destroy();
      }
    } finally {
      child?.kill('SIGKILL');
      await deliveries?.sub.stop();
      await consumer?.stop();
      await bus?.close();
      await consumerDb?.destroy();
      await deleteStream(prefix);
      await database.drop();
    }
  });
});
