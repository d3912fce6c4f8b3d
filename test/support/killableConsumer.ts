/**
 * A consumer process for the fault tests: applies events through the inbox (effect: a row
 * in consumer_effects, deliberately without a unique key, so a second application would
 * show) and, with KILL_ON_NTH=n, SIGKILLs itself right after the n-th effect commits and
 * before its ack is sent. Prints "delivered <event id> <delivery count> <applied>" lines.
 */
import { applyOnce } from '../../lib/events/inboxConsumer';
import { openDb } from '../../lib/db';
import { eventTablesMigration } from '../../lib/events/eventTables';
import { connectNatsBus } from '../../lib/events/natsBus';
import { createLogger } from '../../lib/logger';

async function main(): Promise<void> {
  const env = process.env;
  const db = await openDb({ url: env.DATABASE_URL!, schema: 'consumer', migrations: [eventTablesMigration, {
    name: 'effects', up: async (k) => void (await k.raw('CREATE TABLE consumer_effects (event_id text NOT NULL)')),
  }] });
  const bus = await connectNatsBus({ url: env.NATS_URL!, prefix: env.PREFIX!, name: 'killable', logger: createLogger('c', 'silent') });
  const killOn = Number(env.KILL_ON_NTH ?? 0);
  let applied = 0;
  await bus.consume({
    durable: 'killable',
    subjects: [bus.subject('gpu.>')],
    ackWaitMs: 1000,
    deadLetter: async () => undefined,
    handle: async (delivery) => {
      const fresh = await applyOnce(db, 'killable', delivery, async (trx) => {
        await trx('consumer_effects').insert({ event_id: delivery.envelope.eventId });
      });
      process.stdout.write(`delivered ${delivery.envelope.eventId} ${delivery.deliveryCount} ${fresh}\n`);
      if (fresh && ++applied === killOn) process.kill(process.pid, 'SIGKILL');
    },
  });
  process.stdout.write('consuming\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
