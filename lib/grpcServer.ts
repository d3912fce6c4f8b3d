import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import path from 'node:path';
import type { CallAuthenticator } from './callAuth';
import type { Caller } from './caller';
import { DomainError, toGrpcError } from './errors';
import { traceUnary } from './grpcTracing';
import type { Logger } from './logger';
import { metrics } from './metrics';
import { serverCredentials, type TlsFiles } from './meshSecurity';
import { PROTO_DIR } from './paths';

/** A unary handler written as an async function; errors are thrown, never passed. */
export type AsyncUnary<Req, Res> = (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>;

// Maps the named methods only (dropping grpc-js's index signature) to their async forms.
type AsyncService<S> = {
  [K in keyof S as string extends K ? never : K]: S[K] extends grpc.handleUnaryCall<infer Req, infer Res> ? AsyncUnary<Req, Res> : S[K];
};

export interface ServiceBinding<S extends grpc.UntypedServiceImplementation> {
  definition: grpc.ServiceDefinition<S>;
  /** Unary methods as async functions; streaming methods as grpc-js handlers. */
  implementation: AsyncService<S>;
  /**
   * Streaming methods check their own credentials (the miner stream takes provider keys and
   * throttles failures itself). Unary methods are always authenticated by the server.
   */
  streamsAuthenticateThemselves?: boolean;
}

export interface GrpcServerOptions {
  /** The service's name (the `service` label of its metrics). */
  service?: string;
  logger: Logger;
  /** Proto files (relative to proto/) served by reflection. */
  protoFiles: string[];
  /** Decides who every call is from, before any handler runs. */
  auth: CallAuthenticator;
  /** Serve gRPC server reflection (GRPC_REFLECTION=true). */
  reflection?: boolean;
  /** Mutual TLS when set. */
  tls?: TlsFiles;
  /** A port facing the outside (the miner port): TLS without client certificates. */
  publicPort?: boolean;
}

export interface GrpcServer {
  server: grpc.Server;
  health: HealthImplementation;
  /** Binds, returning the port actually bound (pass 0 in tests). */
  listen(host: string, port: number): Promise<number>;
  /** Graceful stop, forced after timeoutMs. Health turns NOT_SERVING first. */
  stop(timeoutMs: number): Promise<void>;
}

/**
 * Builds an unbound gRPC server with health (NOT_SERVING until the caller flips it),
 * reflection when asked for, and one wrapper around every call that authenticates it before
 * the handler runs, logs it and maps errors. Health is the only thing served without a key.
 */
export function createGrpcServer(options: GrpcServerOptions, bindings: ServiceBinding<any>[]): GrpcServer {
  const server = new grpc.Server({
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  // Never on a public port: it would describe the internal API to anyone.
  if (options.reflection && !options.publicPort) {
    const packageDefinition = protoLoader.loadSync(
      options.protoFiles.map((f) => path.join(PROTO_DIR, f)),
      { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
    );
    new ReflectionService(packageDefinition).addToServer(server);
  }
  for (const binding of bindings) {
    server.addService(tolerantDefinition(binding.definition), wrapService(binding, options));
  }

  const names = bindings.flatMap((b) => Object.values(b.definition).map((m) => m.path.split('/')[1]));
  let stopped = false;
  return {
    server,
    health,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, serverCredentials(options.tls, options.publicPort), (err, bound) =>
          err ? reject(err) : resolve(bound),
        );
      }),
    stop: async (timeoutMs) => {
      if (stopped) return;
      stopped = true;
      health.setStatus('', 'NOT_SERVING');
      for (const name of new Set(names)) health.setStatus(name, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          options.logger.warn({ timeoutMs }, 'graceful gRPC shutdown timed out; forcing');
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/** Marks the server and each of its services SERVING (call once dependencies are up). */
export function markServing(grpcServer: GrpcServer, bindings: ServiceBinding<any>[]): void {
  grpcServer.health.setStatus('', 'SERVING');
  for (const b of bindings) {
    for (const m of Object.values(b.definition)) grpcServer.health.setStatus(m.path.split('/')[1], 'SERVING');
  }
}

/** Marks a request whose bytes did not decode (see tolerantDefinition). */
const UNDECODABLE = Symbol('undecodable');

/**
 * The definition with deserializers that never throw: grpc-js answers a throwing one with
 * INTERNAL before anything else runs, so a number past 2^53 or malformed bytes would be an
 * INTERNAL even without a credential. Instead the handler wrapper authenticates the call
 * first, then answers INVALID_ARGUMENT.
 */
function tolerantDefinition(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(Object.entries(definition).map(([key, method]) => [key, {
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return method.requestDeserialize(bytes);
      } catch (err) {
        return { [UNDECODABLE]: (err as Error).message };
      }
    },
  }]));
}

function wrapService(binding: ServiceBinding<any>, options: GrpcServerOptions): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(binding.definition)) {
    const impl = (binding.implementation as Record<string, unknown>)[key];
    if (typeof impl !== 'function') throw new Error(`no handler for ${method.path}`);
    if (!(method.requestStream || method.responseStream)) {
      // Outside wrapUnary, so the span covers authentication and the call's log line too.
      out[key] = traceUnary(method.path, wrapUnary(method.path, impl as AsyncUnary<unknown, unknown>, options));
    } else if (binding.streamsAuthenticateThemselves) {
      out[key] = impl as grpc.UntypedHandleCall;
    } else {
      out[key] = guardStream(impl as (call: grpc.ServerWritableStream<unknown, unknown>) => void, options);
    }
  }
  return out;
}

/** A streaming handler runs only for a call with a valid credential. */
function guardStream(impl: (call: grpc.ServerWritableStream<unknown, unknown>) => void, options: GrpcServerOptions) {
  return (call: grpc.ServerWritableStream<unknown, unknown>) => {
    try {
      options.auth.credential(call.metadata, call.getPeer());
    } catch (err) {
      call.emit('error', toGrpcError(err));
      return;
    }
    impl(call);
  };
}

/**
 * The per-call interceptor: the caller from the credential (replacing whatever caller the
 * message names, or refusing the call), timing, one log line, DomainError → status,
 * unknown → INTERNAL.
 */
function wrapUnary(path: string, impl: AsyncUnary<unknown, unknown>, options: GrpcServerOptions): grpc.handleUnaryCall<unknown, unknown> {
  const { logger, auth } = options;
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const request = call.request as { caller?: Caller };
    Promise.resolve().then(() => {
      const undecodable = (request as Record<symbol, unknown>)[UNDECODABLE] !== undefined;
      request.caller = auth.authorize(call.metadata, call.getPeer(), undecodable ? undefined : request.caller);
      if (undecodable) {
        throw new DomainError('INVALID_ARGUMENT', 'the request is not a valid message of this method (malformed bytes, or an integer beyond 2^53)');
      }
      return impl(call.request, call);
    }).then(
      (response) => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        metrics.grpcServer(options.service ?? 'unnamed', path, 'OK', ms / 1000);
        if (logger.isLevelEnabled('debug')) logger.debug({ method: path, ms }, 'rpc ok');
        return callback(null, response);
      },
      (err: unknown) => {
        const status = toGrpcError(err);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        metrics.grpcServer(options.service ?? 'unnamed', path, grpc.status[status.code], ms / 1000);
        if (status.code === grpc.status.INTERNAL) logger.error({ err, method: path, ms }, 'rpc failed');
        else if (status.code === grpc.status.UNAVAILABLE) logger.warn({ err, method: path, ms }, 'rpc failed: a dependency is unavailable or too slow');
        else logger.info({ method: path, ms, code: grpc.status[status.code], detail: status.details }, 'rpc refused');
        return callback(status);
      },
    );
  };
}
