/**
 * Heartbeat ingestion of one registry process (its own process, real PostgreSQL and NATS):
 * simulated miners with 8 GPUs each send one heartbeat per second over their streams; the
 * miner count rises step by step until the registry no longer keeps up. Then 200 miners go
 * silent and the delay until their GPUs are offline is measured (TTL 5 s).
 * The load generator runs on the same 2 cores. Prints one JSON line.
 * Usage: npm run bench:heartbeats [-- --steps 500,1000,2000,3000,4000 --seconds 8]
 */
import * as grpc from '@grpc/grpc-js';
import { connectDb } from '../lib/db';
import { type ConnectRequest, type ConnectResponse, MinerServiceClient } from '../lib/gen/aitbc/marketplace/v1/miner';
import { waitFor } from '../test/support/events';
import { benchFixture, withServiceKeys } from './support';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const GPUS = 8;
const PER_CHANNEL = 200;
const TTL_SECONDS = 5;

interface Miner {
  stream: grpc.ClientDuplexStream<ConnectRequest, ConnectResponse>;
  uuids: string[];
  acked: number;
  lastAck: number;
  welcomed: boolean;
  silent: boolean;
}

async function main(): Promise<void> {
  const steps = arg('steps', '500,1000,2000,3000,4000').split(',').map(Number);
  const seconds = Number(arg('seconds', '8'));
  const bench = await benchFixture(26_000);
  const { base: port, database } = bench;
  const key = 'bench-provider-key-00000000';
  await bench.start('dist/services/registry/src/main.js', {
    ...bench.common, MINER_PORT: String(port), REGISTRY_PORT: String(port + 1),
    AITBC_API_KEYS: withServiceKeys(`provider:acme:${key}`), HEARTBEAT_TTL_SECONDS: String(TTL_SECONDS), HEARTBEAT_INTERVAL_SECONDS: '1',
  }, 'registry serving');
  const channels: InstanceType<typeof MinerServiceClient>[] = [];
  const miners: Miner[] = [];
  const metadata = new grpc.Metadata();
  metadata.set('x-api-key', key);

  const addMiners = async (count: number) => {
    const start = miners.length;
    for (let i = start; i < start + count; i++) {
      if (i % PER_CHANNEL === 0) channels.push(new MinerServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
      const stream = channels[channels.length - 1].connect(metadata);
      const miner: Miner = { stream, uuids: Array.from({ length: GPUS }, (_, g) => `BENCH-${i}-${g}`), acked: 0, lastAck: 0, welcomed: false, silent: false };
      stream.on('data', (m: ConnectResponse) => {
        if (m.kind?.$case === 'welcome') miner.welcomed = true;
        else if (m.kind?.$case === 'ack') {
          miner.acked += m.kind.value.accepted;
          miner.lastAck = Date.now();
        }
      });
      stream.on('error', (err: grpc.ServiceError) => {
        if (!miner.silent && process.env.BENCH_DEBUG) process.stderr.write(`miner ${i}: ${err.code} ${err.details}\n`);
      });
      stream.write({ kind: { $case: 'hello', value: { minerId: `m${i}`, agentVersion: 'bench', gpus: miner.uuids.map((uuid) => ({
        uuid, model: 'RTX 4090', memoryGb: 24, cudaCores: 0, cudaVersion: '', driverVersion: '', computeCapability: '', region: '',
      })) } } });
      miners.push(miner);
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
    }
    await waitFor(() => miners.every((m) => m.welcomed), 180_000, 'welcomes').catch((err) => {
      throw new Error(`${err.message}: ${miners.filter((m) => m.welcomed).length} of ${miners.length} welcomed`);
    });
  };

  // Every miner beats once a second, spread over the second in 20 slices.
  let tick = 0;
  const timer = setInterval(() => {
    const slice = tick++ % 20;
    for (let i = slice; i < miners.length; i += 20) {
      const m = miners[i];
      if (m.silent) continue;
      m.stream.write({ kind: { $case: 'heartbeat', value: { gpus: m.uuids.map((uuid) => ({
        uuid, utilization: 50, memoryUsedGb: 4, temperatureC: 60, powerW: 250, healthy: true,
      })) } } });
    }
  }, 50);

  const results: { miners: number; offered_gpu_heartbeats_per_second: number; acked_gpu_heartbeats_per_second: number }[] = [];
  try {
    for (const target of steps) {
      try {
        await addMiners(target - miners.length);
      } catch (err) {
        // The registry cannot even take the new sessions in time: saturated.
        process.stderr.write(`${(err as Error).message}\n`);
        results.push({ miners: target, offered_gpu_heartbeats_per_second: target * GPUS, acked_gpu_heartbeats_per_second: 0 });
        break;
      }
      await new Promise((r) => setTimeout(r, 2000)); // settle
      const before = miners.reduce((n, m) => n + m.acked, 0);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const acked = Math.round((miners.reduce((n, m) => n + m.acked, 0) - before) / seconds);
      results.push({ miners: target, offered_gpu_heartbeats_per_second: target * GPUS, acked_gpu_heartbeats_per_second: acked });
      process.stderr.write(`${JSON.stringify(results[results.length - 1])}\n`);
      if (acked < target * GPUS * 0.9) break; // saturated
    }

    // Offline detection: 200 miners go silent; how long after their last ack are they offline?
    const db = connectDb({ url: database.url, schema: 'registry' });
    const silent = miners.slice(0, 200);
    silent.forEach((m) => (m.silent = true));
    await waitFor(async () => Number((await db('gpus').whereIn('miner_id', silent.map((_, i) => `m${i}`)).where({ online: true }).count({ n: '*' }))[0].n) === 0,
      TTL_SECONDS * 1000 + 20_000, 'silent miners offline');
    const rows: { miner_id: string; updated_at: Date }[] = await db('gpus').whereIn('miner_id', silent.map((_, i) => `m${i}`)).select('miner_id', 'updated_at');
    const delays = rows.map((r) => r.updated_at.getTime() - silent[Number(r.miner_id.slice(1))].lastAck).sort((a, b) => a - b);
    await db.destroy();
    const saturated = results[results.length - 1];
    process.stdout.write(`${JSON.stringify({
      bench: 'heartbeats', gpus_per_miner: GPUS, steps: results,
      max_acked_gpu_heartbeats_per_second: Math.max(...results.map((r) => r.acked_gpu_heartbeats_per_second)),
      saturated_at_miners: saturated.acked_gpu_heartbeats_per_second < saturated.offered_gpu_heartbeats_per_second * 0.9 ? saturated.miners : null,
      offline_delay_ms: { measured_with_miners: miners.length, gpus: delays.length, ttl_ms: TTL_SECONDS * 1000, p50: percentile(delays, 50), p99: percentile(delays, 99), max: delays[delays.length - 1] },
      targets: { gpu_heartbeats_per_second_min: 20_000, offline_delay_p99_ms_max: TTL_SECONDS * 1000 + 1000 },
    })}\n`);
  } finally {
    clearInterval(timer);
    for (const m of miners) m.stream.cancel();
    for (const c of channels) c.close();
    await bench.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
