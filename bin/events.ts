/**
 * The event tail for operators: prints events on NATS as JSON lines, payloads decoded.
 *
 *   npm run events -- [--subject 'aitbc.>'] [--replay] [--nats nats://127.0.0.1:4222]
 *
 * Live events come from a core NATS subscription (durable events and heartbeats alike);
 * --replay first prints what the JetStream stream already holds for the subject.
 */
import { connect, DeliverPolicy, type NatsConnection } from 'nats';
import { envelopeJson } from '../lib/events/envelope';
import { streamName } from '../lib/events/natsBus';
import { EventEnvelope, MinerHeartbeat } from '../lib/gen/aitbc/marketplace/v1/events';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** One message as a JSON line: an envelope with its payload decoded, or a heartbeat. */
export function describe(subject: string, data: Uint8Array): string {
  try {
    if (/\.miner\.heartbeat\./.test(subject)) return JSON.stringify({ subject, heartbeat: MinerHeartbeat.toJSON(MinerHeartbeat.decode(data)) });
    return JSON.stringify(envelopeJson(EventEnvelope.decode(data), subject));
  } catch {
    return JSON.stringify({ subject, undecodable: Buffer.from(data).toString('base64') });
  }
}

async function replay(nc: NatsConnection, subject: string): Promise<void> {
  const prefix = subject.split('.')[0];
  const js = nc.jetstream();
  const consumer = await js.consumers.get(streamName(prefix), { filterSubjects: [subject], deliver_policy: DeliverPolicy.All });
  const pending = (await consumer.info()).num_pending;
  if (!pending) return;
  const messages = await consumer.fetch({ max_messages: pending, expires: 5000 });
  for await (const m of messages) {
    process.stdout.write(`${describe(m.subject, m.data)}\n`);
    if (m.info.pending === 0) break;
  }
}

async function main(env: NodeJS.ProcessEnv): Promise<void> {
  const url = arg('nats') ?? env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const subject = arg('subject') ?? 'aitbc.>';
  const nc = await connect({ servers: url, name: 'aitbc-events-tail' });
  if (process.argv.includes('--replay')) await replay(nc, subject);
  const sub = nc.subscribe(subject);
  process.stderr.write(`tailing ${subject} on ${url} (Ctrl-C to stop)\n`);
  const stop = () => void nc.drain().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  for await (const m of sub) process.stdout.write(`${describe(m.subject, m.data)}\n`);
}

if (require.main === module) {
  main(process.env).catch((err: Error) => {
    process.stderr.write(`events: ${err.message}\n`);
    process.exit(1);
  });
}
