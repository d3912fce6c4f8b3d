/**
 * The event backbone's figures, on the machine's PostgreSQL and NATS:
 * - steady-state latency from outbox commit to consumer (one event per transaction, 200/s);
 * - throughput of outbox → relay → JetStream → consumer for a burst (transactions of 100),
 *   with a plain consumer and with an inbox consumer (effect + inbox row per event);
 * - beside it, raw JetStream publishes with acks (pipelined in batches of 500, like the relay).
 * Prints one JSON line. Usage: npm run bench:events [-- --burst 20000 --seconds 10]
 */
import { openDb } from '../lib/db';
import type { EventBus } from '../lib/events/bus';
import { eventTablesMigration } from '../lib/events/eventTables';
import { createInboxConsumer } from '../lib/events/inboxConsumer';
import { connectNatsBus } from '../lib/events/natsBus';
import { createOutbox } from '../lib/events/outbox';
import { createOutboxRelay } from '../lib/events/outboxRelay';
import { createLogger } from '../lib/logger';
import { deleteStream, NATS_URL, testEvent, testPrefix, waitFor } from '../test/support/events';
import { createTestDatabase } from '../test/support/testDatabase';
import { arg } from './support';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (n: number) => Math.round(n * 10) / 10;
const logger = createLogger('bench', 'silent');

async function main(): Promise<void> {
  const burst = arg('burst', 20_000);
  const seconds = arg('seconds', 10);
  const database = await createTestDatabase();
  const prefix = testPrefix();
  const db = await openDb({ url: database.url, schema: 'bench', migrations: [eventTablesMigration, {
    name: 'effects', up: async (k) => void (await k.raw('CREATE TABLE effects (event_id text NOT NULL)')),
  }] });
  const bus: EventBus = await connectNatsBus({ url: NATS_URL, prefix, name: 'bench', logger });
  const outbox = createOutbox();
  const relay = createOutboxRelay({ db, outbox, schema: 'bench', bus, logger });
  const committedAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  const sub = await bus.consume({
    durable: 'bench', subjects: [bus.subject('gpu.>')], deadLetter: async () => undefined,
    handle: async (d) => void receivedAt.set(d.envelope.eventId, performance.now()),
  });
  const inbox = createInboxConsumer({
    db, bus, logger, durable: 'bench-inbox', types: ['gpu.>'],
    apply: async (trx, d) => void (await trx('effects').insert({ event_id: d.envelope.eventId })),
  });
  try {
    await relay.start();

    // 1. Steady state: one event per transaction at about 200 per second.
    const steadyIds: string[] = [];
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      const e = testEvent(bus, `gpu_${steadyIds.length % 50}`);
      await db.transaction((trx) => outbox.enqueue(trx, [e.envelope]));
      committedAt.set(e.envelope.eventId, performance.now());
      steadyIds.push(e.envelope.eventId);
      await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => steadyIds.every((id) => receivedAt.has(id)), 30_000, 'steady-state events');
    const latencies = steadyIds.map((id) => receivedAt.get(id)! - committedAt.get(id)!).sort((a, b) => a - b);

    // 2. Burst: transactions of 100 events, as fast as they commit; the clock stops when the
    // consumer has the last one.
    const burstIds: string[] = [];
    const started = performance.now();
    for (let i = 0; i < burst; i += 100) {
      const events = Array.from({ length: Math.min(100, burst - i) }, (_, k) => testEvent(bus, `gpu_${(i + k) % 500}`).envelope);
      await db.transaction((trx) => outbox.enqueue(trx, events));
      burstIds.push(...events.map((e) => e.eventId));
    }
    const committed = performance.now();
    await waitFor(() => burstIds.every((id) => receivedAt.has(id)), 120_000, 'burst events');
    const burstSeconds = (performance.now() - started) / 1000;

    // 3. The same stream through an inbox consumer (one transaction per event).
    const inboxStarted = performance.now();
    await inbox.start();
    const total = steadyIds.length + burstIds.length;
    await waitFor(() => inbox.applied() >= total, 300_000, 'inbox consumer');
    const inboxSeconds = (performance.now() - inboxStarted) / 1000;

    // 4. Raw JetStream publishes with acks, pipelined in batches of 500.
    const raw = Array.from({ length: burst }, (_, i) => testEvent(bus, `gpu_${i % 500}`).outgoing);
    const rawStarted = performance.now();
    for (let i = 0; i < raw.length; i += 500) await bus.publish(raw.slice(i, i + 500));
    const rawSeconds = (performance.now() - rawStarted) / 1000;

    const throughput = Math.round(burst / burstSeconds);
    const rawRate = Math.round(burst / rawSeconds);
    process.stdout.write(`${JSON.stringify({
      bench: 'events',
      steady: { events: steadyIds.length, p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), max_ms: round(latencies[latencies.length - 1]) },
      burst: { events: burst, commit_seconds: round((committed - started) / 1000), events_per_second: throughput },
      inbox_consumer: { events: total, events_per_second: Math.round(total / inboxSeconds) },
      raw_jetstream_publish: { events: burst, events_per_second: rawRate },
      burst_vs_raw: Math.round((throughput / rawRate) * 1000) / 1000,
      targets: { steady_p99_ms_max: 100, burst_vs_raw_min: 0.25 },
    })}\n`);
  } finally {
    await inbox.stop();
    await sub.stop();
    await relay.stop();
    await bus.close();
    await db.destroy();
    await deleteStream(prefix);
    await database.drop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
