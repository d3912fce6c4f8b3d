import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { contextFrom, SpanKind, startSpan, tracingOn } from '../../lib/tracing';

const spans = new WeakMap<FastifyRequest, Span>();

/** The trace id of a request's span; undefined when tracing is off (or before routing). */
export function requestTraceId(request: FastifyRequest): string | undefined {
  return spans.get(request)?.spanContext().traceId;
}

/**
 * A SERVER span per request, child of an incoming `traceparent` header, active while the
 * request's hooks and handler run (so gRPC calls, log lines and problems carry its trace).
 * Registered before every other hook. Off: no hooks at all.
 */
export function installRequestTracing(app: FastifyInstance): void {
  if (!tracingOn()) return;
  const activate = (request: FastifyRequest, done: () => void) => {
    const span = spans.get(request);
    return span ? context.with(trace.setSpan(context.active(), span), done) : done();
  };
  app.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers.traceparent;
    const route = request.routeOptions.url;
    const span = startSpan(route ? `${request.method} ${route}` : request.method, {
      kind: SpanKind.SERVER,
      parent: contextFrom(typeof header === 'string' ? header : undefined),
      attributes: {
        'http.request.method': request.method,
        'url.path': request.url.split('?')[0],
        ...(route ? { 'http.route': route } : {}),
      },
    });
    if (span) spans.set(request, span);
    activate(request, done);
  });
  // A body arrives through socket events, which lose the context: take it up again after parsing.
  app.addHook('preValidation', (request, _reply, done) => activate(request, done));
  const end = (request: FastifyRequest, status?: number) => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: status ? `HTTP ${status}` : 'request aborted' });
    span.end();
  };
  app.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => end(request));
}
