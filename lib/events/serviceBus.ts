import { ConfigError, type CommonConfig } from '../config';
import type { Logger } from '../logger';
import type { EventBus } from './bus';
import { connectNatsBus } from './natsBus';

/**
 * The bus a service publishes and consumes on: the one the mesh hands it (in-process, when
 * everything runs in one process without NATS), else NATS at NATS_URL. A service started on
 * its own without NATS_URL refuses to start: its events would reach no one.
 * `close` closes a bus the service opened itself (once; nothing for a bus it was handed).
 */
export async function openServiceBus(service: string, config: CommonConfig, logger: Logger, given?: EventBus): Promise<{ bus: EventBus; close(): Promise<void> }> {
  if (given) return { bus: given, close: async () => undefined };
  if (!config.natsUrl) {
    throw new ConfigError([
      `NATS_URL is required to run the ${service} on its own: it publishes and consumes events through NATS JetStream ` +
      '(npm start runs every service in one process and uses an in-process bus instead)',
    ]);
  }
  const bus = await connectNatsBus({ url: config.natsUrl, prefix: config.natsPrefix, name: service, logger });
  let closing: Promise<void> | undefined;
  return { bus, close: () => (closing ??= bus.close()) };
}
