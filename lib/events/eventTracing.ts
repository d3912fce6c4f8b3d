import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { EventEnvelope } from '../gen/aitbc/marketplace/v1/events';
import { contextFrom, failSpan, injectTraceparent, SpanKind, startSpan, tracingOn, withSpan } from '../tracing';
import type { Delivery, EventBus, OutgoingEvent } from './bus';

/**
 * Publishes outbox events, each in a PRODUCER span that continues the trace its envelope
 * carries (the time from the writer's commit to here is the outbox's delay) and whose own
 * traceparent travels with the message (a NATS header). Off: bus.publish(events).
 */
export async function publishTraced(bus: EventBus, events: (OutgoingEvent & { type: string })[]): Promise<void> {
  if (!tracingOn()) return bus.publish(events);
  const spans = events.map((e) => {
    const traceparent = EventEnvelope.decode(e.data).traceparent;
    if (!traceparent) return undefined;
    return startSpan(`publish ${e.type}`, {
      kind: SpanKind.PRODUCER,
      parent: contextFrom(traceparent),
      attributes: { 'messaging.system': bus.kind, 'messaging.destination.name': e.subject, 'messaging.message.id': e.id },
    });
  });
  try {
    await bus.publish(events.map((e, i) => {
      const span = spans[i];
      return span ? { ...e, traceparent: injectTraceparent(trace.setSpan(ROOT_CONTEXT, span)) } : e;
    }));
  } catch (err) {
    for (const span of spans) if (span) failSpan(span, err);
    throw err;
  } finally {
    for (const span of spans) span?.end();
  }
}

/**
 * Applies one delivered event in a CONSUMER span named after its type, child of the
 * publisher's span (the message's traceparent) or else of the writer's (the envelope's).
 * An event written outside any trace starts a trace of its own. Off: fn().
 */
export function consumeTraced<T>(durable: string, delivery: Delivery, fn: () => Promise<T>): Promise<T> {
  if (!tracingOn()) return fn();
  const { envelope } = delivery;
  return withSpan(`process ${envelope.type}`, {
    kind: SpanKind.CONSUMER,
    parent: contextFrom(delivery.traceparent || envelope.traceparent),
    attributes: {
      'messaging.operation.type': 'process',
      'messaging.destination.name': delivery.subject,
      'messaging.consumer.group.name': durable,
      'messaging.message.id': envelope.eventId,
      'messaging.message.delivery_count': delivery.deliveryCount,
      'aitbc.event.source': envelope.source,
    },
  }, fn);
}
