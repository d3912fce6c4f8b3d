import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { startTracing } from '../../lib/tracing';
import { waitFor } from '../support/events';
import { http, KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

describe('traces across the mesh', function () {
  this.timeout(60_000);
  const exporter = new InMemorySpanExporter();
  let stopTracing: (() => Promise<void>) | undefined;
  let mesh: TestMesh;
  const logged: string[] = [];
  const call = (method: string, path: string, options: Parameters<typeof http>[3] = {}) => http(mesh.url, method, path, options);

  const spans = () => exporter.getFinishedSpans();
  const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
  const idOf = (s: ReadableSpan) => s.spanContext().spanId;
  const traceOf = (s: ReadableSpan) => s.spanContext().traceId;
  /** The spans of one trace whose parent is `parent`, matching `pick`. */
  const children = (parent: ReadableSpan, pick: (s: ReadableSpan) => boolean) =>
    spans().filter((s) => traceOf(s) === traceOf(parent) && parentOf(s) === idOf(parent) && pick(s));
  /** Whether `ancestor` is above `span` in its trace. */
  const descendsFrom = (span: ReadableSpan, ancestor: ReadableSpan): boolean => {
    const byId = new Map(spans().filter((s) => traceOf(s) === traceOf(span)).map((s) => [idOf(s), s]));
    for (let s: ReadableSpan | undefined = span; s; s = byId.get(parentOf(s) ?? '')) if (parentOf(s) === idOf(ancestor)) return true;
    return false;
  };

  before(async () => {
    // Registered before the mesh starts: the gateway installs its hooks only when tracing is on.
    stopTracing = startTracing({ serviceName: 'tracing-test', exporter });
    mesh = await startTestMesh({}, { pricing: false, logLevel: 'debug', logSink: { write: (line: string) => void logged.push(line) } });
  });
  after(async () => {
    await mesh?.stop();
    // Unregisters the provider, context manager and propagator: later test files run untraced.
    await stopTracing?.();
  });

  it('follows a booking from the gateway through booking and its outbox to the registry consumer, as one trace', async () => {
    const registered = await call('POST', '/v1/marketplace/gpu/register', {
      key: KEYS.provider, headers: { 'X-Miner-ID': 'trace-rig' },
      body: { gpu: { name: 'RTX 4090', memory_gb: 24, cuda_cores: 16384, compute_capability: '8.9', price_per_hour: 1.5 } },
    });
    assert.equal(registered.status, 201);
    const gpuId = registered.body.gpu_id as string;
    const booked = await call('POST', `/v1/marketplace/gpu/${gpuId}/book`, { key: KEYS.client, body: { gpu_id: gpuId, duration_hours: 1 } });
    assert.equal(booked.status, 201, JSON.stringify(booked.body));

    const httpSpan = spans().find((s) => s.kind === SpanKind.SERVER && s.attributes['http.route'] === '/v1/marketplace/gpu/:id/book'
      && s.attributes['url.path'] === `/v1/marketplace/gpu/${gpuId}/book`);
    assert.ok(httpSpan, 'the gateway span of the request');
    assert.equal(httpSpan.attributes['http.response.status_code'], 201);
    assert.equal(parentOf(httpSpan), undefined, 'a request without traceparent starts a trace');

    // The gRPC hop: a CLIENT span in the gateway, the SERVER span in booking under it.
    const [rpcClient] = children(httpSpan, (s) => s.kind === SpanKind.CLIENT && s.attributes['rpc.service'] === 'aitbc.marketplace.v1.BookingService');
    assert.ok(rpcClient, `a gRPC client span into booking; got ${spans().map((s) => s.name).join(', ')}`);
    const [rpcServer] = children(rpcClient, (s) => s.kind === SpanKind.SERVER);
    assert.ok(rpcServer, 'the booking service span, child of the client span');
    assert.equal(rpcServer.attributes['rpc.method'], rpcClient.attributes['rpc.method']);
    assert.equal(rpcServer.attributes['rpc.grpc.status_code'], 0);

    // SQL in booking's schema, the outbox row among it.
    const sql = spans().filter((s) => s.attributes['db.system'] === 'postgresql' && s.attributes['db.namespace'] === 'booking' && descendsFrom(s, rpcServer));
    assert.ok(sql.length > 0, 'SQL spans under the booking span');
    assert.ok(sql.some((s) => /INSERT INTO outbox/i.test(String(s.attributes['db.statement']))), 'the outbox insert is one of them');

    // The relay publishes in the same trace; the registry's consumer applies it, another service.
    let consumer: ReadableSpan | undefined;
    await waitFor(() => {
      consumer = spans().find((s) => s.kind === SpanKind.CONSUMER && s.name === 'process booking.created'
        && s.attributes['messaging.consumer.group.name'] === 'registry-booking-projection' && traceOf(s) === traceOf(httpSpan));
      return consumer !== undefined;
    }, 10_000, 'the registry consumer span of booking.created');
    const publish = spans().find((s) => idOf(s) === parentOf(consumer!));
    assert.ok(publish, 'the consumer span has a parent in the trace');
    assert.equal(publish.kind, SpanKind.PRODUCER);
    assert.equal(publish.name, 'publish booking.created');
    assert.equal(publish.attributes['messaging.system'], 'nats');
    assert.ok(descendsFrom(publish, rpcServer), 'the publish continues the booking span (through the outbox row)');
    await waitFor(() => spans().some((s) => s.attributes['db.namespace'] === 'registry' && parentOf(s) === idOf(consumer!)), 5000, 'registry SQL under the consumer span');

    // Log lines written inside the trace carry its id.
    const lines = logged.map((l) => JSON.parse(l) as Record<string, unknown>);
    const traced = lines.filter((l) => l.trace_id === traceOf(httpSpan));
    assert.ok(traced.some((l) => l.service === 'booking'), 'a booking log line carries the trace id');
    assert.ok(traced.every((l) => typeof l.span_id === 'string' && (l.span_id as string).length === 16));
  });

  it('puts the trace id in problem+json answers, continuing an incoming traceparent', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const res = await call('POST', '/v1/marketplace/gpu/gpu_missing/book', {
      key: KEYS.client, headers: { traceparent: `00-${traceId}-${parentId}-01` }, body: { gpu_id: 'gpu_missing', duration_hours: 1 },
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.trace_id, traceId);
    const httpSpan = spans().find((s) => s.kind === SpanKind.SERVER && traceOf(s) === traceId && s.attributes['http.route']);
    assert.ok(httpSpan);
    assert.equal(parentOf(httpSpan), parentId, 'the caller span is the parent');
    assert.equal(httpSpan.attributes['http.response.status_code'], 404);

    // A refusal before any route (no key) is in its request's trace too.
    const unauthorized = await call('GET', '/v1/marketplace/gpu/list');
    assert.equal(unauthorized.status, 401);
    assert.match(unauthorized.body.trace_id, /^[0-9a-f]{32}$/);
    assert.notEqual(unauthorized.body.trace_id, traceId);
  });
});
