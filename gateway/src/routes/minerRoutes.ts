import type { FastifyInstance } from 'fastify';
import type { GatewayDeps } from '../deps';
import { callerOf, minerIdOf } from '../request';
import { gpuJson } from '../gpuJson';
import { heartbeatBodySchema, minerHeaderSchema, minerParams, minerRegisterBodySchema, unregisterQuerySchema } from '../schemas';
import { invalid } from '../../../lib/errors';
import type { GpuSpec } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { type GpuBody, gpuSpecFromBody } from './gpuRoutes';
import { answers, int, listOf, object, str } from '../answers';

/** What the miner-wide answers say: the miner and its GPUs as they are now. */
const minerGpusSchema = object({
  status: { type: 'string', enum: ['registered', 'nothing_listed', 'updated', 'deregistered'] }, miner_id: str, gpus: listOf('Gpu'), message: str,
}, ['message']);

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

/** The GPUs a miner's capabilities describe; undefined when they describe none (a CPU-only host). */
function specsOf({ capabilities, region }: MinerRegisterBody): GpuSpec[] | undefined {
  if (capabilities.gpu === undefined) return undefined;
  const list = Array.isArray(capabilities.gpu) ? capabilities.gpu : [capabilities.gpu];
  return list.map((g, i) => {
    const field = Array.isArray(capabilities.gpu) ? `capabilities.gpu[${i}]` : 'capabilities.gpu';
    return gpuSpecFromBody({ region, ...g, name: g.name ?? g.model, model: undefined }, field);
  });
}

/** The miner endpoints the CLI's `miner` commands call; the gRPC stream is the agent's way. */
export function minerRoutes(app: FastifyInstance, { registry }: GatewayDeps): void {
  app.post<{ Body: MinerRegisterBody }>('/v1/miners/register', {
    schema: {
      summary: "Create or update a miner's GPUs from its capabilities", body: minerRegisterBodySchema, headers: minerHeaderSchema,
      response: answers(200, 'registered, or nothing_listed for capabilities without a GPU', minerGpusSchema, { problems: [409] }),
    },
    config: PROVIDERS,
  }, async (request) => {
    const minerId = minerIdOf(request);
    const gpus = specsOf(request.body);
    if (!gpus) {
      return { status: 'nothing_listed', miner_id: minerId, gpus: [],
        message: 'no GPU in the capabilities: only GPUs are rented here, so nothing was listed (send capabilities.gpu, or run the miner agent on a GPU host)' };
    }
    const res = await registry.registerMiner({ caller: callerOf(request), minerId, gpus, existingOnly: false });
    return { status: 'registered', miner_id: minerId, gpus: res.gpus.map(gpuJson) };
  });

  app.put<{ Params: { id: string }; Body: MinerRegisterBody }>('/v1/miners/:id/capabilities', {
    schema: {
      summary: "Update one of your miners' GPUs from its capabilities (as register does); another's miner is 404", params: minerParams, body: minerRegisterBodySchema,
      response: answers(200, 'updated', minerGpusSchema, { problems: [409] }),
    },
    config: PROVIDERS,
  }, async (request) => {
    const minerId = request.params.id;
    const gpus = specsOf(request.body);
    if (!gpus) throw invalid('capabilities.gpu', 'is required: the GPUs to update (only GPUs are rented here)');
    const res = await registry.registerMiner({ caller: callerOf(request), minerId, gpus, existingOnly: true });
    return { status: 'updated', miner_id: minerId, gpus: res.gpus.map(gpuJson) };
  });

  app.delete<{ Params: { id: string }; Querystring: { force?: boolean } }>('/v1/miners/:id', {
    schema: {
      summary: "Unregister all of one of your miners' GPUs (409 listing the booked ones unless force=true, which cancels their bookings); history stays",
      params: minerParams, querystring: unregisterQuerySchema,
      response: answers(200, 'deregistered', minerGpusSchema, { problems: [409] }),
    },
    config: PROVIDERS,
  }, async (request) => {
    const minerId = request.params.id;
    const res = await registry.unregisterMiner({ caller: callerOf(request), minerId, force: request.query.force ?? false });
    return { status: 'deregistered', miner_id: minerId, gpus: res.gpus.map(gpuJson) };
  });

  app.post<{ Body: HeartbeatBody | null }>('/v1/miners/heartbeat', {
    schema: {
      summary: "Keep a miner's GPUs online", body: heartbeatBodySchema, headers: minerHeaderSchema,
      response: answers(200, 'its GPUs online (or offline)', object({ status: { type: 'string', enum: ['online', 'offline'] }, miner_id: str, gpus: int, heartbeat_interval_seconds: int })),
    },
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
