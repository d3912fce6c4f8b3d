import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import path from 'node:path';
import { toGrpcError } from './errors';
import type { Logger } from './logger';
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
}

export interface GrpcServerOptions {
  logger: Logger;
  /** Proto files (relative to proto/) served by reflection. */
  protoFiles: string[];
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
 * reflection, and one wrapper around every unary call that logs it and maps errors.
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
  const packageDefinition = protoLoader.loadSync(
    options.protoFiles.map((f) => path.join(PROTO_DIR, f)),
    { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
  );
  new ReflectionService(packageDefinition).addToServer(server);
  for (const binding of bindings) {
    server.addService(binding.definition, wrapService(binding, options.logger));
  }

  const names = bindings.flatMap((b) => Object.values(b.definition).map((m) => m.path.split('/')[1]));
  let stopped = false;
  return {
    server,
    health,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
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

function wrapService(binding: ServiceBinding<any>, logger: Logger): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(binding.definition)) {
    const impl = (binding.implementation as Record<string, unknown>)[key];
    if (typeof impl !== 'function') throw new Error(`no handler for ${method.path}`);
    out[key] = method.requestStream || method.responseStream
      ? (impl as grpc.UntypedHandleCall)
      : wrapUnary(method.path, impl as AsyncUnary<unknown, unknown>, logger);
  }
  return out;
}

/** The per-call interceptor: timing, one log line, DomainError → status, unknown → INTERNAL. */
function wrapUnary(path: string, impl: AsyncUnary<unknown, unknown>, logger: Logger): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    impl(call.request, call).then(
      (response) => {
        if (logger.isLevelEnabled('debug')) {
          logger.debug({ method: path, ms: Number(process.hrtime.bigint() - started) / 1e6 }, 'rpc ok');
        }
        return callback(null, response);
      },
      (err: unknown) => {
        const status = toGrpcError(err);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        if (status.code === grpc.status.INTERNAL) logger.error({ err, method: path, ms }, 'rpc failed');
        else if (status.code === grpc.status.UNAVAILABLE) logger.warn({ err, method: path, ms }, 'rpc failed: a dependency is unavailable or too slow');
        else logger.info({ method: path, ms, code: grpc.status[status.code], detail: status.details }, 'rpc refused');
        return callback(status);
      },
    );
  };
}
