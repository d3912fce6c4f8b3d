import { EventEnvelope } from '../gen/aitbc/marketplace/v1/events';
import { type ConsumerOptions, deliver, type EventBus, type OutgoingEvent, type Subscription } from './bus';
import { subjectMatches } from './envelope';

interface Stored {
  subject: string;
  data: Uint8Array;
  at: number;
  traceparent?: string;
}

interface DurableState {
  /** Index in the log of the next event to look at. */
  position: number;
  /** Deliveries so far of the event at `position` (it stays there until acknowledged). */
  deliveries: number;
  active: boolean;
}

/**
 * The in-process bus for `npm start` without NATS: a log that plays the part of a stream,
 * durable positions per consumer name, the same delivery rule as JetStream (lib/events/bus.ts)
 * and a duplicate window on event ids. It lives as long as the process; the outbox is what
 * makes events survive a restart (unpublished rows are published on start, recently
 * published ones again: lib/events/outboxRelay.ts). Events every durable has passed are
 * dropped once `keepMs` old (10 minutes), so a long-running mesh does not grow without end;
 * a durable that first appears later than that starts from what is left.
 */
export function createMemoryBus(options: { prefix?: string; duplicateWindowMs?: number; keepMs?: number } = {}): EventBus {
  const prefix = options.prefix ?? 'aitbc';
  const windowMs = options.duplicateWindowMs ?? 120_000;
  const keepMs = options.keepMs ?? 10 * 60_000;
  /** The log from absolute position `base` on (positions below it were dropped). */
  const log: Stored[] = [];
  let base = 0;
  const seen = new Map<string, number>();
  const durables = new Map<string, DurableState>();
  const wakers = new Set<() => void>();
  const transient = new Set<{ subject: string; handler: (subject: string, data: Uint8Array) => void }>();
  let closed = false;

  const wakeAll = () => {
    for (const wake of [...wakers]) wake();
  };
  /** Drops old events every durable has passed (in chunks: splicing an array is O(n)). */
  const trim = (now: number) => {
    let passed = Infinity;
    for (const d of durables.values()) passed = Math.min(passed, d.position);
    if (passed === Infinity) return;
    let n = 0;
    while (n < passed - base && n < log.length && now - log[n].at > keepMs) n++;
    if (n >= 1024 || (n > 0 && n === log.length)) {
      log.splice(0, n);
      base += n;
    }
  };

  return {
    kind: 'memory',
    subject: (type) => `${prefix}.${type}`,

    async publish(events: OutgoingEvent[]) {
      if (closed) throw new Error('event bus is closed');
      const now = Date.now();
      for (const [id, at] of seen) if (now - at > windowMs) seen.delete(id); else break;
      for (const event of events) {
        if (seen.has(event.id)) continue;
        seen.set(event.id, now);
        log.push({ subject: event.subject, data: event.data, at: now, traceparent: event.traceparent });
        // As on NATS, where a JetStream publish is also a core message: transient
        // subscribers (the gateway's live streams) see stored events too, once each.
        for (const sub of transient) if (subjectMatches(sub.subject, event.subject)) sub.handler(event.subject, event.data);
      }
      trim(now);
      wakeAll();
    },

    async consume(consumer: ConsumerOptions): Promise<Subscription> {
      let state = durables.get(consumer.durable);
      if (!state) {
        state = { position: base, deliveries: 0, active: false };
        durables.set(consumer.durable, state);
      }
      if (state.active) throw new Error(`durable ${consumer.durable} already has a consumer in this process`);
      state.active = true;
      const durable = state;
      let stopped = false;
      let wake: (() => void) | undefined;
      const loop = (async () => {
        while (!stopped) {
          const next = log[durable.position - base];
          if (!next) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              wakers.add(resolve);
            });
            wakers.delete(wake!);
            continue;
          }
          if (!consumer.subjects.some((s) => subjectMatches(s, next.subject))) {
            durable.position++;
            continue;
          }
          durable.deliveries++;
          const delivery = { envelope: EventEnvelope.decode(next.data), subject: next.subject, deliveryCount: durable.deliveries, traceparent: next.traceparent };
          try {
            if ((await deliver(consumer, delivery, { stopping: () => stopped })) === 'stopped') break;
          } catch {
            // Even the dead-letter record failed: leave it unacknowledged and try again soon.
            if (stopped) break;
            await new Promise((r) => setTimeout(r, consumer.retryDelayMs ?? 200));
            continue;
          }
          // Stopped while handling: like a crashed consumer, the event stays unacknowledged.
          if (stopped) break;
          durable.position++;
          durable.deliveries = 0;
        }
      })();
      return {
        async stop() {
          stopped = true;
          wake?.();
          await loop;
          durable.active = false;
        },
      };
    },

    publishTransient(subject, data) {
      for (const sub of transient) if (subjectMatches(sub.subject, subject)) sub.handler(subject, data);
    },

    subscribeTransient(subject, handler) {
      const entry = { subject, handler };
      transient.add(entry);
      return { stop: async () => void transient.delete(entry) };
    },

    async close() {
      closed = true;
      wakeAll();
    },
  };
}
