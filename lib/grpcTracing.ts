import * as grpc from '@grpc/grpc-js';
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { contextFrom, failSpan, injectTraceparent, SpanKind, startSpan, tracingOn, withSpan } from './tracing';

/** `/aitbc.marketplace.v1.BookingService/BookGpu` → the semantic-convention attributes. */
function rpcAttributes(path: string) {
  const [, service, method] = path.split('/');
  return { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method };
}

/**
 * Server codes that mean the server failed (OpenTelemetry's rule for gRPC server spans);
 * the rest (NOT_FOUND, INVALID_ARGUMENT, …) are the caller's and leave the status unset.
 */
const SERVER_FAULTS = new Set([
  grpc.status.UNKNOWN, grpc.status.DEADLINE_EXCEEDED, grpc.status.UNIMPLEMENTED, grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE, grpc.status.DATA_LOSS,
]);

/**
 * Wraps a grpc-js unary handler in a SERVER span whose parent is the caller's `traceparent`
 * metadata. The whole handler (authentication, its log line) runs with the span active; the
 * span ends with the status the handler answers. Off: the handler itself.
 */
export function traceUnary<Req, Res>(path: string, handler: grpc.handleUnaryCall<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    if (!tracingOn()) return handler(call, callback);
    const parent = contextFrom(String(call.metadata.get('traceparent')[0] ?? ''));
    const span = startSpan(`${path.slice(1)}`, { kind: SpanKind.SERVER, parent, attributes: rpcAttributes(path) })!;
    const ended: grpc.sendUnaryData<Res> = (err, ...rest) => {
      const code = err ? ((err as grpc.ServiceError).code ?? grpc.status.UNKNOWN) : grpc.status.OK;
      span.setAttribute('rpc.grpc.status_code', code);
      if (SERVER_FAULTS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as grpc.ServiceError).details ?? grpc.status[code] });
      span.end();
      return callback(err, ...rest);
    };
    context.with(trace.setSpan(parent, span), () => handler(call, ended));
  };
}

/**
 * Runs one outgoing unary call in a CLIENT span, handing `call` the `traceparent` to send
 * in its metadata ('' when off, when the call is sent as it was before).
 */
export function traceClientCall<T>(path: string, call: (traceparent: string) => Promise<T>): Promise<T> {
  if (!tracingOn()) return call('');
  return withSpan(path.slice(1), { kind: SpanKind.CLIENT, attributes: rpcAttributes(path) }, async (span) => {
    try {
      const result = await call(injectTraceparent());
      span?.setAttribute('rpc.grpc.status_code', grpc.status.OK);
      return result;
    } catch (err) {
      // The call rejects with a DomainError whose code names the gRPC status.
      const code = grpc.status[(err as { code?: string }).code as keyof typeof grpc.status];
      if (span && typeof code === 'number') span.setAttribute('rpc.grpc.status_code', code);
      if (span) failSpan(span, err);
      throw err;
    }
  });
}
