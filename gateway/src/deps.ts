import type { Client } from '@grpc/grpc-js';
import type { KeyDirectory } from '../../lib/keyDirectory';
import type { Caller } from '../../lib/caller';
import type { AccountsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/accounts';
import type { BookingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/booking';
import type { MarketServiceClient } from '../../lib/gen/aitbc/marketplace/v1/market';
import type { PricingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/pricing';
import type { RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import type { ReviewsServiceClient } from '../../lib/gen/aitbc/marketplace/v1/reviews';
import type { AsyncClient } from '../../lib/grpcClient';
import type { KnownKeys } from '../../lib/knownKeys';
import type { LimiterFactory } from '../../lib/limiter';
import type { Logger } from '../../lib/logger';
import type { EventBus } from '../../lib/events/bus';
import type { GpuReplicaOptions } from './gpuReplica';

/** What the gateway needs: clients of the services and the keys. It holds no business state. */
export interface GatewayDeps {
  registry: AsyncClient<RegistryServiceClient>;
  booking: AsyncClient<BookingServiceClient>;
  pricing: AsyncClient<PricingServiceClient>;
  reviews: AsyncClient<ReviewsServiceClient>;
  /** Who a key belongs to (the accounts service, cached). */
  keys: KeyDirectory;
  accounts: AsyncClient<AccountsServiceClient>;
  market: AsyncClient<MarketServiceClient>;
  logger: Logger;
  /** Services whose gRPC health /readyz reports. */
  backends: { name: string; channel: Client }[];
  bodyLimitBytes?: number;
  /** Requests per second per account (0: no limit) and the burst allowed above it. */
  rateLimit?: { perSecond: number; burst: number };
  /** Where rate limits count (a store shared by the gateways); in memory when absent. */
  limiters?: LimiterFactory;
  /** Keys the fleet's gateways authenticated lately (with the shared store). */
  knownKeys?: KnownKeys;
  /** Unknown keys allowed per client address (a burst, then per second) before its unknown keys get 429. */
  failedAuthLimit?: { perSecond: number; burst: number };
  /** Which proxies' X-Forwarded-For to believe: their addresses or CIDRs (Fastify trustProxy); none by default. */
  trustProxy?: string;
  /** Where GET /v1/events/gpus reads GPU status changes (core subjects); absent: that route is 503. */
  events?: EventBus;
  /** Open event streams per account before 429 (5). */
  maxStreamsPerAccount?: number;
  /** Keep the GPU list in memory and answer lists from it (gpuReplica.ts); absent: every list asks the registry. */
  gpuReplica?: GpuReplicaOptions;
  /** Serve the web console at / (on by default). */
  console?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
    /** SHA-256 of the API key the request came with (set with `caller`). */
    keySha256?: Buffer;
  }
  interface FastifyContextConfig {
    /** No API key needed (health, docs). */
    public?: boolean;
    /** Roles allowed; absent means any authenticated role. */
    roles?: string[];
    /**
     * The key is checked with the key store at this request, never from the gateway's
     * cache: requests that must not outlive a revocation (a new key, an account, admin money).
     */
    freshKey?: boolean;
  }
}
