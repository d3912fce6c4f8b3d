import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from '../deps';
import { callerOf, minerIdOf } from '../request';
import { gpuJson } from '../gpuJson';
import { heartbeatBodySchema, minerHeaderSchema, minerRegisterBodySchema } from '../schemas';
import { type GpuBody, gpuSpecFromBody } from './gpuRoutes';

interface MinerRegisterBody {
  capabilities: { gpu?: GpuBody | GpuBody[] };
  concurrency?: number;
  region?: string;
}

interface HeartbeatBody {
  inflight?: number;
  status?: string;
  metadata?: Record<string, unknown>;
}

const PROVIDERS = { roles: ['provider', 'admin'] };

/** The miner endpoints the CLI's `miner` commands call; the gRPC stream is the agent's way. */
export function minerRoutes(app: FastifyInstance, { registry }: GatewayDeps): void {
  app.post<{ Body: MinerRegisterBody }>('/v1/miners/register', {
    schema: { summary: "Create or update a miner's GPUs from its capabilities", body: minerRegisterBodySchema, headers: minerHeaderSchema },
    config: PROVIDERS,
  }, async (request) => {
    const { capabilities, region } = request.body;
    if (capabilities.gpu === undefined) {
      return { status: 'nothing_listed', miner_id: minerIdOf(request), gpus: [],
        message: 'no GPU in the capabilities: only GPUs are rented here, so nothing was listed (send capabilities.gpu, or run the miner agent on a GPU host)' };
    }
    const list = Array.isArray(capabilities.gpu) ? capabilities.gpu : [capabilities.gpu];
    const gpus = list.map((g, i) => {
      const field = Array.isArray(capabilities.gpu) ? `capabilities.gpu[${i}]` : 'capabilities.gpu';
      return gpuSpecFromBody({ region, ...g, name: g.name ?? g.model, model: undefined }, field);
    });
    const minerId = minerIdOf(request);
    const res = await registry.registerMiner({ caller: callerOf(request), minerId, gpus });
    return { status: 'registered', miner_id: minerId, gpus: res.gpus.map(gpuJson) };
  });

  app.post<{ Body: HeartbeatBody | null }>('/v1/miners/heartbeat', {
    schema: { summary: "Keep a miner's GPUs online", body: heartbeatBodySchema, headers: minerHeaderSchema },
    config: PROVIDERS,
  }, async (request) => {
    const online = (request.body?.status ?? 'ONLINE').toUpperCase() !== 'OFFLINE';
    const minerId = minerIdOf(request);
    const res = await registry.minerHeartbeat({ caller: callerOf(request), minerId, online });
    return {
      status: online ? 'online' : 'offline',
      miner_id: minerId,
      gpus: res.gpus,
      heartbeat_interval_seconds: res.heartbeatIntervalSeconds,
    };
  });
}
