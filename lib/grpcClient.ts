import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { DomainError, fromGrpcError } from './errors';
import { traceClientCall } from './grpcTracing';
import { metrics } from './metrics';
import { channelCredentials, type ClientAuth, type TlsFiles } from './meshSecurity';

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

/** The async face of a ts-proto grpc-js client: every unary method returns a promise. */
export type AsyncClient<C> = {
  [K in keyof C as C[K] extends UnaryMethod<any, any> ? K : never]: C[K] extends UnaryMethod<infer Req, infer Res>
    ? (request: Req, options?: { deadlineMs?: number }) => Promise<Res>
    : never;
};

export interface ClientHandle<C> {
  client: AsyncClient<C>;
  raw: C & grpc.Client;
  close(): void;
}

type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => C & grpc.Client;

export const CHANNEL_OPTIONS: Partial<grpc.ClientOptions> = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  // DNS round-robin across replicas when the address resolves to several hosts.
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  // A page of 500 GPUs with the longest descriptions allowed is about 6.5 MB (the default limit is 4 MB).
  'grpc.max_receive_message_length': 32 * 1024 * 1024,
};

/**
 * Connects to a service and wraps every unary method so that it always carries a deadline
 * (`defaultDeadlineMs` unless the call names one) and the caller's credential
 * (`authorization: Bearer <key>`), and rejects with a DomainError. With `auth.tls` the
 * channel is mutual TLS. When tracing is on each call is a CLIENT span and sends its
 * `traceparent`.
 */
export function connect<C>(Ctor: ClientCtor<C>, address: string, defaultDeadlineMs: number, auth: ClientAuth): ClientHandle<C> {
  const raw = new Ctor(address, channelCredentials(auth.tls), CHANNEL_OPTIONS);
  const from = auth.from ?? 'unnamed';
  // Cloned per call: grpc-js may add to the metadata it is given.
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${auth.key}`);
  const cache = new Map<string, unknown>();
  const client = new Proxy({} as AsyncClient<C>, {
    get(_target, key: string) {
      let fn = cache.get(key);
      if (!fn) {
        const method = (raw as unknown as Record<string, UnaryMethod<unknown, unknown>>)[key];
        if (typeof method !== 'function') return undefined;
        const path: string = (Ctor as unknown as { service?: Record<string, { path: string }> }).service?.[key]?.path ?? key;
        fn = (request: unknown, options?: { deadlineMs?: number }) => traceClientCall(path, (traceparent) =>
          new Promise((resolve, reject) => {
            const started = performance.now();
            const deadline = new Date(Date.now() + (options?.deadlineMs ?? defaultDeadlineMs));
            const callMetadata = metadata.clone();
            if (traceparent) callMetadata.set('traceparent', traceparent);
            method.call(raw, request, callMetadata, { deadline }, (err, response) => {
              metrics.grpcClient(from, path, grpc.status[err?.code ?? grpc.status.OK], (performance.now() - started) / 1000);
              if (!err) return resolve(response);
              // A value the message cannot hold (an integer past its type) is the caller's input, not a fault.
              if (/^Request message serialization failure/.test(err.details ?? '')) {
                return reject(new DomainError('INVALID_ARGUMENT', 'a number in the request is out of range'));
              }
              return reject(fromGrpcError(err));
            });
          }));
        cache.set(key, fn);
      }
      return fn;
    },
  });
  return { client, raw, close: () => raw.close() };
}

// The health client comes from the proto shipped with grpc-health-check, loaded once.
const HealthClient = (
  grpc.loadPackageDefinition(protoLoader.loadSync(healthProtoPath, { enums: String, defaults: true })) as any
).grpc.health.v1.Health as typeof grpc.Client;

/** A channel to a server's grpc.health.v1 service, reusable across checks. */
export function healthChannel(address: string, tls?: TlsFiles): grpc.Client {
  return new HealthClient(address, channelCredentials(tls));
}

/**
 * Asks a server for its overall health with a deadline. Resolves with the serving status,
 * or UNREACHABLE / DEADLINE_EXCEEDED; never rejects.
 */
export function checkHealth(channel: grpc.Client, deadlineMs: number): Promise<string> {
  return new Promise((resolve) => {
    (channel as any).check({ service: '' }, { deadline: new Date(Date.now() + deadlineMs) },
      (err: grpc.ServiceError | null, res?: { status: string }) => {
        if (err) return resolve(err.code === grpc.status.DEADLINE_EXCEEDED ? 'DEADLINE_EXCEEDED' : 'UNREACHABLE');
        return resolve(res?.status ?? 'UNKNOWN');
      });
  });
}
