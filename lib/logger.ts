import pino, { type Logger } from 'pino';

export type { Logger };

/** The one pino root of a service; everything below it takes child loggers. */
export function createLogger(service: string, level = 'info', destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // A destination of its own only when given (tests that read what was logged).
  return destination ? pino(options, destination) : pino(options);
}
