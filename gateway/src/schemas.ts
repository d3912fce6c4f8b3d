import { GPU_LIMITS as L } from '../../lib/gpuLimits';

/**
 * JSON schemas of the REST bodies and queries. Bodies are validated without type coercion
 * and refuse unknown fields (a typo should not be silently ignored); query strings are
 * coerced from text. The same schemas feed /openapi.json.
 */
const text = (maxLength: number, pattern?: string) => ({ type: 'string', minLength: 1, maxLength, ...(pattern ? { pattern } : {}) });
const modelName = text(L.modelMaxLength);
// GB, or MiB from 1,024 (nvidia-smi's figure); the registry converts.
const memory = { type: 'integer', minimum: L.memoryGbMin, maximum: L.memoryReportedMax };

/** What an owner may say about one GPU (register body, miner capabilities). */
export const gpuSpecSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: modelName,
    model: modelName,
    memory_gb: memory,
    memory,
    cuda_cores: { type: 'integer', minimum: 0, maximum: L.cudaCoresMax },
    compute_capability: { type: ['string', 'number'] },
    cuda_version: { type: ['string', 'number'] },
    driver_version: text(32, L.driverVersionPattern),
    price_per_hour: { type: 'number', exclusiveMinimum: 0, maximum: L.priceMax },
    description: { type: ['string', 'null'], maxLength: L.descriptionMaxLength },
    uuid: text(128, L.uuidPattern),
    region: text(64, L.regionPattern),
    capabilities: { type: 'array', maxItems: L.capabilitiesMax, items: text(L.capabilityMaxLength) },
  },
} as const;

export const registerBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['gpu'],
  properties: { gpu: gpuSpecSchema },
  examples: [{ gpu: { name: 'NVIDIA H200', memory_gb: 143771, cuda_cores: 16896, compute_capability: '9.0', price_per_hour: 3.2, description: 'eu-west rack 4' } }],
} as const;

export const minerRegisterBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['capabilities'],
  properties: {
    capabilities: {
      type: 'object',
      additionalProperties: false,
      properties: {
        gpu: {
          oneOf: [gpuSpecSchema, { type: 'array', minItems: 1, maxItems: L.gpusPerMinerMax, items: gpuSpecSchema }],
        },
        // What `miner register` sends without --gpu: read, never stored (nothing to rent).
        cpu: { type: ['object', 'string', 'number', 'null'] },
        memory: { type: ['object', 'string', 'number', 'null'] },
      },
    },
    concurrency: { type: 'integer', minimum: 0, maximum: 1024 },
    region: text(64, L.regionPattern),
  },
  examples: [{ capabilities: { gpu: { model: 'RTX 4090', memory_gb: 24, cuda_cores: 16384 } } }],
} as const;

export const heartbeatBodySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    inflight: { type: 'integer', minimum: 0 },
    status: { type: 'string', enum: ['ONLINE', 'BUSY', 'IDLE', 'OFFLINE', 'online', 'busy', 'idle', 'offline'] },
    metadata: { type: 'object' },
  },
  examples: [{ inflight: 0, status: 'ONLINE', metadata: {} }],
} as const;

export const listQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: L.listLimitMax, default: L.listLimitDefault },
    available: { type: 'boolean' },
    status: { type: 'string', enum: ['available', 'booked', 'offline'] },
    model: { type: 'string', maxLength: L.modelMaxLength },
    memory_min: { type: 'integer', minimum: 0, maximum: L.memoryGbMax },
    price_min: { type: 'number', minimum: 0 },
    price_max: { type: 'number', minimum: 0 },
    region: text(64, L.regionPattern),
    miner_id: text(64, L.minerIdPattern),
    // An account's GPUs; "me" is the caller's own.
    owner_id: text(64, L.minerIdPattern),
    min_rating: { type: 'number', minimum: 0, maximum: 5 },
    sort: { type: 'string', enum: ['newest', 'price', '-price', 'rating', '-rating', 'memory', '-memory'] },
    cursor: { type: 'string', maxLength: 200 },
  },
} as const;

export const idParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

/** A miner named in the path (the rig's name within the caller's account). */
export const minerParams = {
  type: 'object', required: ['id'], properties: { id: text(64, L.minerIdPattern) },
} as const;

export const unregisterQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { force: { type: 'boolean', default: false } },
} as const;

export const minerHeaderSchema = {
  type: 'object',
  properties: { 'x-miner-id': { type: 'string', pattern: L.minerIdPattern } },
} as const;

export const bookBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['duration_hours'],
  properties: {
    gpu_id: { type: 'string', maxLength: 64 },
    duration_hours: { type: 'number', exclusiveMinimum: 0, maximum: 720 },
    total_cost: { type: ['number', 'null'], minimum: 0 },
    job_id: { type: ['string', 'null'], maxLength: 128 },
    start_time: { type: 'string', format: 'date-time' },
    dry_run: { type: 'boolean' },
  },
  examples: [{ duration_hours: 2, total_cost: 6.4, job_id: 'job-42' }],
} as const;

/** A POST that takes nothing: no body, or an empty object (a field would be ignored, so it is refused). */
export const emptyBodySchema = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;

export const confirmBodySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { client_id: { type: ['string', 'null'] } },
} as const;

export const ordersQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: L.listLimitMax, default: 10 },
    status: { type: 'string', enum: ['active', 'completed', 'released', 'cancelled'] },
    cursor: { type: 'string', maxLength: 200 },
  },
} as const;
