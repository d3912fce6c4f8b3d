/**
 * The miner agent a GPU owner runs on a rig: reports its GPUs to the registry over one gRPC
 * stream and keeps them online with heartbeats.
 *
 *   npm run miner -- --simulate 4 --api-key <provider key> [--miner-id rig-1] [--registry 127.0.0.1:50051]
 *                    [--price 0.5] [--region eu-west] [--ca registry-ca.pem]
 *
 * Real GPUs are read with nvidia-smi (every GPU: UUID, name, MiB memory, compute capability,
 * driver and CUDA versions; utilisation, memory used, temperature and power with each
 * heartbeat); without nvidia-smi it says so and exits 1. --simulate N reports N simulated GPUs
 * instead. --ca (a PEM file of the CA that signed the registry's certificate) connects over TLS,
 * for a registry run with GRPC_TLS_*. Environment fallbacks: AITBC_REGISTRY_ADDR, AITBC_API_KEY,
 * AITBC_MINER_ID, AITBC_REGISTRY_CA.
 * Reconnects with exponential backoff and jitter; a refused key stops it.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { CHANNEL_OPTIONS } from '../lib/grpcClient';
import { type ConnectRequest, type ConnectResponse, type GpuInventory, type GpuTelemetry, MinerServiceClient } from '../lib/gen/aitbc/marketplace/v1/miner';
import { createLogger, type Logger } from '../lib/logger';
import { parseMoney } from '../lib/money';
import { readGpus, readTelemetry } from './nvidiaSmi';

export interface AgentOptions {
  registry: string;
  apiKey: string;
  minerId: string;
  simulate: number;
  priceMicro?: number;
  region?: string;
  /** PEM of the CA to check the registry's certificate with: TLS when set. */
  ca?: string;
  /** LOG_LEVEL (info). */
  logLevel: string;
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function readAgentOptions(argv: string[], env: NodeJS.ProcessEnv): AgentOptions {
  const simulate = Number(arg(argv, 'simulate') ?? 0);
  if (!Number.isInteger(simulate) || simulate < 0 || simulate > 64) throw new Error('--simulate must be a whole number from 0 to 64');
  const apiKey = arg(argv, 'api-key') ?? env.AITBC_API_KEY ?? '';
  if (!apiKey) throw new Error('a provider API key is required: --api-key KEY or AITBC_API_KEY');
  const price = arg(argv, 'price');
  const caFile = arg(argv, 'ca') ?? env.AITBC_REGISTRY_CA;
  return {
    registry: arg(argv, 'registry') ?? env.AITBC_REGISTRY_ADDR ?? '127.0.0.1:50051',
    apiKey,
    minerId: arg(argv, 'miner-id') ?? env.AITBC_MINER_ID ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64),
    simulate,
    priceMicro: price === undefined ? undefined : parseMoney(price, '--price'),
    region: arg(argv, 'region'),
    ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
  };
}

function simulatedGpus(minerId: string, n: number): GpuInventory[] {
  return Array.from({ length: n }, (_, i) => ({
    uuid: `SIM-${minerId}-${i}`, model: 'RTX 4090', memoryGb: 24, cudaCores: 16384, cudaVersion: '12.4', driverVersion: '550.54.15', computeCapability: '8.9', region: '',
  }));
}

/** Telemetry for a heartbeat: nvidia-smi's for real GPUs (bare liveness when it cannot say), fixed values when simulated. */
function telemetry(gpus: GpuInventory[], simulated: boolean): GpuTelemetry[] {
  const read = simulated ? [] : readTelemetry();
  if (read.length) return read;
  return gpus.map((g) => ({ uuid: g.uuid, utilization: 0, memoryUsedGb: 0, temperatureC: 40, powerW: 30, healthy: true }));
}

/**
 * Runs the agent until `signal` aborts: connect, hello, heartbeats at the registry's interval;
 * on a dropped stream, reconnect after min(30 s, 0.5 s × 2^attempt) with full jitter.
 */
export async function runAgent(options: AgentOptions, logger: Logger, signal: AbortSignal): Promise<void> {
  const simulated = options.simulate > 0;
  // No nvidia-smi, or no GPUs: NoGpusError says which, and the agent exits non-zero.
  const skip = (line: string, why: string) => logger.warn({ line, why }, 'a GPU nvidia-smi lists is left out');
  const gpus = (simulated ? simulatedGpus(options.minerId, options.simulate) : readGpus(undefined, skip))
    .map((g) => ({ ...g, pricePerHourMicro: options.priceMicro, region: options.region ?? g.region }));
  const client = new MinerServiceClient(options.registry,
    options.ca ? grpc.credentials.createSsl(Buffer.from(options.ca)) : grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  let attempt = 0;
  try {
    while (!signal.aborted) {
      const outcome = await session(client, options, gpus, simulated, logger, signal, () => (attempt = 0));
      if (signal.aborted) break;
      if (outcome?.code === grpc.status.UNAUTHENTICATED || outcome?.code === grpc.status.PERMISSION_DENIED) {
        throw new Error('the registry refused the API key (a provider key is needed)');
      }
      // The inventory itself was refused: reconnecting would only be refused again.
      if (outcome?.code === grpc.status.INVALID_ARGUMENT) throw new Error(`the registry refused this rig's GPUs: ${outcome.detail}`);
      const delay = Math.random() * Math.min(30_000, 500 * 2 ** attempt++);
      logger.warn({ delayMs: Math.round(delay), code: outcome === undefined ? undefined : grpc.status[outcome.code] }, 'stream ended; reconnecting');
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, delay);
        signal.addEventListener('abort', () => { clearTimeout(timer); resolve(undefined); }, { once: true });
      });
    }
  } finally {
    client.close();
  }
}

/** One stream's life; resolves with the status it ended with. */
function session(
  client: InstanceType<typeof MinerServiceClient>, options: AgentOptions, gpus: GpuInventory[], simulated: boolean,
  logger: Logger, signal: AbortSignal, onWelcome: () => void,
): Promise<{ code: grpc.status; detail: string } | undefined> {
  return new Promise((resolve) => {
    const metadata = new grpc.Metadata();
    metadata.set('x-api-key', options.apiKey);
    const stream: grpc.ClientDuplexStream<ConnectRequest, ConnectResponse> = client.connect(metadata);
    let timer: NodeJS.Timeout | undefined;
    const stop = () => stream.end();
    signal.addEventListener('abort', stop, { once: true });
    const done = (outcome: { code: grpc.status; detail: string } | undefined) => {
      clearInterval(timer);
      signal.removeEventListener('abort', stop);
      resolve(outcome);
    };
    stream.on('data', (message: ConnectResponse) => {
      if (message.kind?.$case === 'welcome') {
        const { heartbeatIntervalSeconds, gpus: registered } = message.kind.value;
        onWelcome();
        logger.info({ minerId: options.minerId, gpus: registered.map((g) => g.id), intervalSeconds: heartbeatIntervalSeconds }, 'registered with the registry');
        clearInterval(timer);
        timer = setInterval(() => {
          stream.write({ kind: { $case: 'heartbeat', value: { gpus: telemetry(gpus, simulated) } } });
        }, heartbeatIntervalSeconds * 1000);
      } else if (message.kind?.$case === 'booking') {
        const n = message.kind.value;
        logger.info({ gpuId: n.gpuId, bookingId: n.bookingId, start: n.startTime, end: n.endTime, reason: n.reason || undefined },
          n.started ? 'GPU booked' : 'booking ended');
      } else if (message.kind?.$case === 'ack' && message.kind.value.rejected.length) {
        logger.warn({ rejected: message.kind.value.rejected }, 'the registry refused some telemetry');
      }
    });
    stream.on('error', (err: grpc.ServiceError) => {
      if (!signal.aborted) logger.warn({ code: grpc.status[err.code], detail: err.details }, 'stream failed');
      done({ code: err.code, detail: err.details });
    });
    stream.on('end', () => done(undefined));
    try {
      stream.write({ kind: { $case: 'hello', value: { minerId: options.minerId, gpus, agentVersion: '1' } } });
    } catch (err) {
      // A value the message cannot even carry (out of its field's range).
      stream.cancel();
      done({ code: grpc.status.INVALID_ARGUMENT, detail: (err as Error).message });
    }
  });
}

if (require.main === module) {
  let options: AgentOptions;
  try {
    options = readAgentOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`miner: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger('miner', options.logLevel);
  const controller = new AbortController();
  process.on('SIGINT', () => controller.abort());
  process.on('SIGTERM', () => controller.abort());
  runAgent(options, logger, controller.signal).then(() => process.exit(0), (err: Error) => {
    logger.error({ err: err.message }, 'miner agent stopped');
    process.exit(1);
  });
}
