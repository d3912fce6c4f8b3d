import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The active span's ids on every line written inside it (a request, an RPC, a consumed
 * event), so a log line leads to its trace. Without a registered tracer there is never an
 * active span: one lookup in a no-op context manager per line.
 */
function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan();
  // A new object each line: pino merges the line's own fields into what the mixin returns,
  // so a shared one collected every field ever logged (an adversary found them on later lines).
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** The one pino root of a service; everything below it takes child loggers. */
export function createLogger(service: string, level = 'info', destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    mixin: traceIds,
  };
  // A destination of its own only when given (tests that read what was logged).
  return destination ? pino(options, destination) : pino(options);
}
