import {
  AccountCreated, AccountKeyChanged, LedgerTransactionRecorded,
  BookingConfirmed, BookingCreated, BookingEnded, EventEnvelope, GpuRegistered, GpuStatusChanged, GpuUnregistered, GpuUpdated, PriceChanged, ReviewAdded, ReviewEdited, ReviewModerated,
} from '../gen/aitbc/marketplace/v1/events';
import { newId } from '../ids';
import { injectTraceparent } from '../tracing';

/** Every durable event type and its payload message. Types are past tense, without prefix. */
export const EVENT_TYPES = {
  'gpu.registered': GpuRegistered,
  'gpu.updated': GpuUpdated,
  'gpu.status_changed': GpuStatusChanged,
  'gpu.unregistered': GpuUnregistered,
  'booking.created': BookingCreated,
  'booking.confirmed': BookingConfirmed,
  'booking.ended': BookingEnded,
  'price.changed': PriceChanged,
  'review.added': ReviewAdded,
  'review.edited': ReviewEdited,
  'review.moderated': ReviewModerated,
  'account.created': AccountCreated,
  'account.key_created': AccountKeyChanged,
  'account.key_revoked': AccountKeyChanged,
  'ledger.transaction': LedgerTransactionRecorded,
} as const;

export type EventType = keyof typeof EVENT_TYPES;
export type PayloadOf<T extends EventType> = ReturnType<(typeof EVENT_TYPES)[T]['decode']>;

/** Streams hold these subject families (`<prefix>.<family>.>`). */
export const STREAM_FAMILIES = ['gpu', 'booking', 'review', 'price', 'account', 'ledger'];
/** How long the stream keeps events: the furthest back a replay can reach. */
export const STREAM_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

export { EventEnvelope };

/**
 * Wraps a payload in a new envelope with a fresh event id and the active trace context (so
 * it survives the outbox row, and its consumers continue the trace of the work that wrote it).
 */
export function newEvent<T extends EventType>(type: T, source: string, aggregateId: string, payload: PayloadOf<T>): EventEnvelope {
  const codec = EVENT_TYPES[type] as { encode(message: PayloadOf<T>): { finish(): Uint8Array } };
  return {
    eventId: newId('evt'),
    type,
    source,
    aggregateId,
    occurredAt: new Date(),
    payload: Buffer.from(codec.encode(payload).finish()),
    traceparent: injectTraceparent(),
  };
}

/** Decodes an envelope's payload when its type is known; undefined otherwise. */
export function decodePayload(envelope: EventEnvelope): unknown {
  const codec = (EVENT_TYPES as Record<string, { decode(bytes: Uint8Array): unknown }>)[envelope.type];
  return codec?.decode(envelope.payload);
}

/** An envelope as one JSON object (payload decoded), for logs and the event tail. */
export function envelopeJson(envelope: EventEnvelope, subject?: string): Record<string, unknown> {
  const codec = (EVENT_TYPES as Record<string, { toJSON(message: unknown): unknown }>)[envelope.type];
  const payload = decodePayload(envelope);
  return {
    ...(subject ? { subject } : {}),
    event_id: envelope.eventId,
    type: envelope.type,
    source: envelope.source,
    aggregate_id: envelope.aggregateId,
    occurred_at: envelope.occurredAt?.toISOString(),
    payload: codec && payload !== undefined ? codec.toJSON(payload) : Buffer.from(envelope.payload).toString('base64'),
  };
}

/**
 * NATS subject matching: `*` matches one token, `>` one or more trailing tokens.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}
