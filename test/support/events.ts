import { randomBytes } from 'node:crypto';
import { connect } from 'nats';
import type { Delivery, EventBus } from '../../lib/events/bus';
import { connectNatsBus } from '../../lib/events/natsBus';
import { createLogger } from '../../lib/logger';
import { newEvent } from '../../lib/events/envelope';
import { EventEnvelope } from '../../lib/gen/aitbc/marketplace/v1/events';
import { GpuStatus } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { streamName } from '../../lib/events/natsBus';

/** NATS for tests: NATS_URL or the machine's server. Missing NATS fails the tests. */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A subject prefix (and so a stream) of a test's own. */
export const testPrefix = () => `t${randomBytes(4).toString('hex')}`;

/** Deletes a test prefix's stream. */
export async function deleteStream(prefix: string, url = NATS_URL): Promise<void> {
  const nc = await connect({ servers: url, timeout: 3000 });
  try {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(streamName(prefix)).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** A status-changed event about `aggregateId`, encoded for the bus. */
export function testEvent(bus: EventBus, aggregateId: string, reason = '') {
  const envelope = newEvent('gpu.status_changed', 'test', aggregateId, {
    gpuId: aggregateId, ownerId: 'o', minerId: 'm', model: 'x', previousStatus: GpuStatus.GPU_STATUS_OFFLINE,
    status: GpuStatus.GPU_STATUS_AVAILABLE, reason,
  });
  return { envelope, outgoing: { id: envelope.eventId, subject: bus.subject(envelope.type), aggregateId, data: EventEnvelope.encode(envelope).finish() } };
}

/** Polls until `check` is true or the time is up. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Records every event of `types` on a prefix's stream, through a durable consumer of the
 * test's own (real NATS). `stop` ends it and closes its connection.
 */
export async function recordEvents(prefix: string, types: string[], name = 'recorder'): Promise<{ seen: Delivery[]; stop(): Promise<void> }> {
  const bus = await connectNatsBus({ url: NATS_URL, prefix, name, logger: createLogger(name, 'silent') });
  const seen: Delivery[] = [];
  const sub = await bus.consume({
    durable: name, subjects: types.map((t) => bus.subject(t)), deadLetter: async () => undefined,
    handle: async (d) => void seen.push(d),
  });
  return {
    seen,
    async stop() {
      await sub.stop();
      await bus.close();
    },
  };
}
