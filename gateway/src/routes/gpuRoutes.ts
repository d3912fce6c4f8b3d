import type { FastifyInstance } from 'fastify';
import { invalid } from '../../../lib/errors';
import { GpuSort, type GpuSpec, type ListGpusRequest } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { planList } from '../../../lib/gpuListQuery';
import { metrics } from '../../../lib/metrics';
import type { GpuReplica } from '../gpuReplica';
import { parseMoney } from '../../../lib/money';
import { singleFlight } from '../../../lib/singleFlight';
import type { GatewayDeps } from '../deps';
import { callerOf, minerIdOf, setNextLinks } from '../request';
import { bookingJson } from '../bookingJson';
import { gpuJson, STATUS_BY_NAME } from '../gpuJson';
import { serializeList } from '../gpuListJson';
import {
  idParamsSchema, listQuerySchema, minerHeaderSchema, registerBodySchema, unregisterQuerySchema,
} from '../schemas';
import { answers, listOf, object, pageHeaders, ref, str } from '../answers';

const registeredSchema = object({ gpu_id: str, status: { type: 'string', const: 'registered' }, gpu: ref('Gpu') });
const unregisteredSchema = object({ gpu_id: str, status: { type: 'string', const: 'unregistered' }, gpu: ref('Gpu') });

/** A GPU as a REST body states it (CLI names and their aliases). */
export interface GpuBody {
  name?: string;
  model?: string;
  memory_gb?: number;
  memory?: number;
  cuda_cores?: number;
  compute_capability?: string | number;
  cuda_version?: string | number;
  driver_version?: string;
  price_per_hour?: number;
  description?: string | null;
  uuid?: string;
  region?: string;
  capabilities?: string[];
}

/** Maps a REST GPU body to the registry's GpuSpec; `field` prefixes the names in errors. */
export function gpuSpecFromBody(body: GpuBody, field: string): GpuSpec {
  if (body.name !== undefined && body.model !== undefined && body.name !== body.model) {
    throw invalid(`${field}.model`, 'differs from name; send one of them');
  }
  if (body.memory_gb !== undefined && body.memory !== undefined && body.memory_gb !== body.memory) {
    throw invalid(`${field}.memory`, 'differs from memory_gb; send one of them');
  }
  const model = body.name ?? body.model;
  if (model === undefined) throw invalid(`${field}.name`, 'is required (the GPU model, for example "RTX 4090")');
  const memoryGb = body.memory_gb ?? body.memory;
  if (memoryGb === undefined) throw invalid(`${field}.memory_gb`, 'is required');
  return {
    uuid: body.uuid ?? '',
    model,
    memoryGb,
    cudaCores: body.cuda_cores,
    computeCapability: body.compute_capability === undefined ? undefined : String(body.compute_capability),
    cudaVersion: body.cuda_version === undefined ? undefined : String(body.cuda_version),
    driverVersion: body.driver_version,
    region: body.region,
    pricePerHourMicro: body.price_per_hour === undefined ? undefined : parseMoney(body.price_per_hour, `${field}.price_per_hour`),
    description: body.description ?? undefined,
    capabilities: body.capabilities ?? [],
    setCapabilities: body.capabilities !== undefined,
  };
}

interface ListQuery {
  limit: number;
  available?: boolean;
  status?: string;
  model?: string;
  memory_min?: number;
  price_min?: number;
  price_max?: number;
  region?: string;
  miner_id?: string;
  owner_id?: string;
  min_rating?: number;
  sort?: string;
  cursor?: string;
}

const SORT_BY_NAME: Record<string, GpuSort> = {
  newest: GpuSort.GPU_SORT_NEWEST,
  price: GpuSort.GPU_SORT_PRICE_ASC,
  '-price': GpuSort.GPU_SORT_PRICE_DESC,
  rating: GpuSort.GPU_SORT_RATING_ASC,
  '-rating': GpuSort.GPU_SORT_RATING_DESC,
  memory: GpuSort.GPU_SORT_MEMORY_ASC,
  '-memory': GpuSort.GPU_SORT_MEMORY_DESC,
};

const PROVIDERS = { roles: ['provider', 'admin'] };

/** The registry's list request for a REST query (the gateway asks as itself: lists are the same for every caller). */
function listRequest(q: ListQuery): ListGpusRequest {
  return {
    caller: undefined,
    available: q.available,
    status: q.status ? STATUS_BY_NAME[q.status] : 0,
    model: q.model ?? '',
    memoryMin: q.memory_min,
    priceMinMicro: q.price_min === undefined ? undefined : parseMoney(q.price_min, 'price_min'),
    priceMaxMicro: q.price_max === undefined ? undefined : parseMoney(q.price_max, 'price_max'),
    region: q.region ?? '',
    minerId: q.miner_id ?? '',
    minRating: q.min_rating,
    sort: q.sort ? SORT_BY_NAME[q.sort] : GpuSort.GPU_SORT_UNSPECIFIED,
    limit: q.limit,
    cursor: q.cursor ?? '',
    ownerId: q.owner_id ?? '',
  };
}

/** GPU endpoints of CONTRACT.md: register, list, details, unregister. */
export function gpuRoutes(app: FastifyInstance, { registry, booking }: GatewayDeps, replica?: GpuReplica): void {
  app.post<{ Body: { gpu: GpuBody } }>('/v1/marketplace/gpu/register', {
    schema: {
      summary: 'Register (or update, by uuid) a GPU', body: registerBodySchema, headers: minerHeaderSchema,
      response: answers(201, 'registered', registeredSchema, { also: { 200: 'the same miner repeated a uuid: updated' }, problems: [409] }),
    },
    config: PROVIDERS,
  }, async (request, reply) => {
    const spec = gpuSpecFromBody(request.body.gpu, 'gpu');
    if (spec.pricePerHourMicro === undefined) throw invalid('gpu.price_per_hour', 'is required');
    const { gpu, created } = await registry.registerGpu({ caller: callerOf(request), minerId: minerIdOf(request), spec });
    return reply.code(created ? 201 : 200).send({ gpu_id: gpu!.id, status: 'registered', gpu: gpuJson(gpu!) });
  });

  // Every caller sees the same list, so identical queries arriving together share one
  // registry call and one serialisation (the list is the hottest read of the marketplace).
  const fetchPage = singleFlight(async (q: ListQuery) => {
    const { gpus, nextCursor } = await registry.listGpus(listRequest(q));
    return { body: serializeList(gpus.map(gpuJson)), nextCursor };
  }, (q) => JSON.stringify(Object.entries(q).sort(([a], [b]) => a.localeCompare(b))));

  /** The page from this gateway's replica when it may answer (see gpuReplica.ts), else undefined. */
  async function replicaPage(q: ListQuery) {
    if (!replica || !(await replica.ready())) return undefined;
    let plan;
    try {
      plan = planList(listRequest(q));
    } catch {
      return undefined; // the registry words the refusal, as it always has
    }
    return replica.page(plan, new Date());
  }

  app.get<{ Querystring: ListQuery }>('/v1/marketplace/gpu/list', {
    schema: {
      summary: 'List GPUs (filters, sort, cursor pagination in X-Next-Cursor / Link)', querystring: listQuerySchema,
      response: answers(200, 'a page of GPUs', listOf('Gpu'), { headers: pageHeaders }),
    },
  }, async (request, reply) => {
    // owner_id=me: the caller's own GPUs (resolved here, so identical pages still share a call).
    const query = request.query.owner_id?.toLowerCase() === 'me' ? { ...request.query, owner_id: callerOf(request).accountId } : request.query;
    const fromReplica = await replicaPage(query);
    metrics.gpuListAnswer(fromReplica ? 'replica' : 'registry');
    const { body, nextCursor } = fromReplica ?? await fetchPage(query);
    if (nextCursor) setNextLinks(request, reply, nextCursor);
    return reply.type('application/json; charset=utf-8').send(body);
  });

  app.get<{ Params: { id: string } }>('/v1/marketplace/gpu/:id', {
    schema: { summary: 'GPU details (with its current booking for its client, owner and admin)', params: idParamsSchema, response: answers(200, 'the GPU', ref('Gpu')) },
  }, async (request) => {
    const caller = callerOf(request);
    const { gpu } = await registry.getGpu({ caller, id: request.params.id });
    if (!gpu!.currentBookingId) return gpuJson(gpu!);
    // The current booking, for those allowed to see it (its client, the owner, admin);
    // the booking service decides, and a failure there only leaves it out.
    const current = await booking.getBooking({ caller, bookingId: gpu!.currentBookingId }, { deadlineMs: 500 }).then(
      (res) => (res.booking ? bookingJson(res.booking) : undefined),
      () => undefined,
    );
    return { ...gpuJson(gpu!), current_booking: current };
  });

  app.delete<{ Params: { id: string }; Querystring: { force: boolean } }>('/v1/marketplace/gpu/:id', {
    schema: {
      summary: 'Unregister a GPU (force=true cancels a live booking)', params: idParamsSchema, querystring: unregisterQuerySchema,
      response: answers(200, 'unregistered (its history stays)', unregisteredSchema, { problems: [409] }),
    },
    config: PROVIDERS,
  }, async (request) => {
    const { gpu } = await registry.unregisterGpu({ caller: callerOf(request), id: request.params.id, force: request.query.force });
    return { status: 'unregistered', gpu_id: gpu!.id, gpu: gpuJson(gpu!) };
  });
}
