import pino, { type Logger } from 'pino';

export type { Logger };

/** The one pino root of a service; everything below it takes child loggers. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
