import {
  type Attributes, type Context, context, type Link, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler, BatchSpanProcessor, NodeTracerProvider, ParentBasedSampler, SimpleSpanProcessor, type SpanExporter,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { ConfigReader, type Env } from './config';

export { SpanKind, type Span };

/**
 * Traces through @opentelemetry/api only: code we own starts its spans by hand (no
 * require hooks, which would be fragile with services started in-process by tests and by
 * npm start). Until startTracing registers a provider the API is a no-op, and the helpers
 * below check `on` first, so an untraced process pays a boolean test per call.
 */
let on = false;

/** Whether a provider is registered in this process. */
export const tracingOn = (): boolean => on;

export interface TracingOptions {
  serviceName: string;
  /** Spans go here at once (tests: InMemorySpanExporter); else over OTLP, batched. */
  exporter?: SpanExporter;
  /** The OTLP/HTTP collector's base URL (spans go to `<endpoint>/v1/traces`). */
  endpoint?: string;
}

/**
 * Registers the process's one tracer provider (a one-process mesh has one for all its
 * services: their spans tell them apart by their attributes). Returns its shutdown, which
 * flushes what is pending and unregisters everything, so a test's provider does not outlive it.
 */
export function startTracing(options: TracingOptions): () => Promise<void> {
  const processor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter(options.endpoint ? { url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` } : {}));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    // A caller's traceparent saying "not sampled" must not switch tracing off for its request
    // (an outsider could hide what it does): remote parents are sampled whatever they say.
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler(), remoteParentNotSampled: new AlwaysOnSampler() }),
    spanProcessors: [processor],
  });
  provider.register({ propagator: new W3CTraceContextPropagator(), contextManager: new AsyncLocalStorageContextManager() });
  on = true;
  return async () => {
    on = false;
    // A collector that is away at shutdown loses the last batch; it does not fail the stop.
    await provider.shutdown().catch(() => undefined);
    trace.disable();
    context.disable();
    propagation.disable();
  };
}

/**
 * A composition root's tracing: on over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set
 * (OTEL_SERVICE_NAME overrides the name), else nothing at all. Returns the shutdown.
 */
export function startTracingFromEnv(env: Env, serviceName: string): () => Promise<void> {
  const r = new ConfigReader(env);
  const endpoint = r.url('OTEL_EXPORTER_OTLP_ENDPOINT', ['http:', 'https:']);
  const name = r.string('OTEL_SERVICE_NAME', serviceName);
  r.done();
  return endpoint && !on ? startTracing({ serviceName: name, endpoint }) : async () => undefined;
}

const tracer = () => trace.getTracer('aitbc');

export interface SpanOptions {
  kind?: SpanKind;
  attributes?: Attributes;
  /** The parent; the active context when absent. */
  parent?: Context;
  links?: Link[];
}

/**
 * Runs `fn` inside a new active span that ends when `fn` settles (ERROR with the exception
 * when it throws). Off: `fn(undefined)` and nothing else.
 */
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span | undefined) => Promise<T> | T): Promise<T> {
  if (!on) return Promise.resolve().then(() => fn(undefined));
  const { parent, ...spanOptions } = options;
  return tracer().startActiveSpan(name, spanOptions, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Starts a span that the caller ends (work whose end is a callback, not a promise). */
export function startSpan(name: string, options: SpanOptions): Span | undefined {
  if (!on) return undefined;
  const { parent, ...spanOptions } = options;
  return tracer().startSpan(name, spanOptions, parent ?? context.active());
}

/** Marks a span failed, recording the error. */
export function failSpan(span: Span, err: unknown, message?: string): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? (err instanceof Error ? err.message : String(err)) });
}

/** The W3C `traceparent` of `ctx` (the active context by default); '' without a span. */
export function injectTraceparent(ctx: Context = context.active()): string {
  if (!on) return '';
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ?? '';
}

/** The context a `traceparent` names (a remote parent), or the root context. */
export function contextFrom(traceparent: string | undefined): Context {
  if (!on || !traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent });
}
