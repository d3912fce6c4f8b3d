import type * as grpc from '@grpc/grpc-js';
import { metadataKey, peerHost } from '../../../lib/callAuth';
import type { KeyDirectory } from '../../../lib/keyDirectory';
import { createKeyThrottle } from '../../../lib/keyThrottle';
import { type Caller, requireCaller, Role } from '../../../lib/caller';
import type { Knex } from '../../../lib/db';
import { DomainError, invalid, toGrpcError } from '../../../lib/errors';
import type { EventBus } from '../../../lib/events/bus';
import type { Outbox } from '../../../lib/events/outbox';
import { MinerHeartbeat } from '../../../lib/gen/aitbc/marketplace/v1/events';
import {
  BookingNotice, type ConnectRequest, type ConnectResponse, type GpuTelemetry, type Hello, MinerServiceService, type MinerServiceServer,
} from '../../../lib/gen/aitbc/marketplace/v1/miner';
import { GpuSpec } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import type { ServiceBinding } from '../../../lib/grpcServer';
import type { Logger } from '../../../lib/logger';
import { cleanMinerId } from './domain/gpuSpec';
import { gpuMessage } from './gpuMessage';
import type { Liveness } from './liveness';
import { registerInventory } from './registerInventory';
import type { RegistryStore } from './store';
import { readHeartbeat } from './domain/telemetry';
import { metrics } from '../../../lib/metrics';

export interface MinerSessionDeps {
  db: Knex;
  store: RegistryStore;
  outbox: Outbox;
  liveness: Liveness;
  bus: EventBus;
  logger: Logger;
  /** Who a provider key belongs to (the accounts service, cached). */
  keys: KeyDirectory;
  /** Unknown keys allowed per address before its unknown keys are refused outright. */
  failedAuth: { burst: number; perSecond: number };
  heartbeatIntervalSeconds: number;
  defaultPriceMicro: number;
}

type Stream = grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>;

/** How long a new stream may take to send its hello. */
export const HELLO_TIMEOUT_MS = 10_000;

/** Transient subject type of booking notices for miners (`<prefix>.miner.notice`). */
export const NOTICE_TYPE = 'miner.notice';

/**
 * aitbc.marketplace.v1.MinerService: one bidirectional stream per miner agent. The hello
 * creates or updates the miner's GPUs (hardware UUIDs keep re-connections from duplicating
 * them); heartbeats go to the coalescing liveness writer and, as they are, to core NATS on
 * `aitbc.miner.heartbeat.<miner_id>`. Booking notices (made / ended) reach the stream that
 * reports the GPU. `abortAll` ends every open stream with UNAVAILABLE so a shutdown need not
 * wait for agents to hang up.
 */
export function createMinerSessions(deps: MinerSessionDeps): { binding: ServiceBinding<MinerServiceServer>; abortAll(): void } {
  const sessions = new Set<Stream>();
  /** Which open stream (on this replica) reports each GPU: booking notices go there. */
  const streamOfGpu = new Map<string, Stream>();
  const forget = (call: Stream) => {
    for (const [gpuId, stream] of streamOfGpu) if (stream === call) streamOfGpu.delete(gpuId);
    if (!sessions.delete(call)) return false;
    metrics.minerStreams('registry', -1);
    return true;
  };

  const fail = (call: Stream, err: unknown) => {
    if (!forget(call)) return;
    call.emit('error', toGrpcError(err));
  };

  // Notices come over core NATS, so the replica that holds the miner's stream forwards them
  // whichever replica's booking projection saw the event.
  const notices = deps.bus.subscribeTransient(deps.bus.subject(NOTICE_TYPE), (_subject, data) => {
    const notice = BookingNotice.decode(data);
    streamOfGpu.get(notice.gpuId)?.write({ kind: { $case: 'booking', value: notice } });
  });

  /** A miner is who its provider key says; a missing, unknown or non-provider key ends the stream. */
  const admit = createKeyThrottle(deps.keys, deps.failedAuth);
  /**
   * A miner is who its provider key says (asked of the accounts service, cached): a missing,
   * unknown, revoked or non-provider key ends the stream; unknown keys from an address that
   * keeps presenting them are refused outright (see createKeyThrottle).
   */
  async function authenticate(call: Stream): Promise<Caller> {
    const key = metadataKey(call.metadata);
    if (!key) throw new DomainError('UNAUTHENTICATED', 'missing credential: send a provider key as authorization: Bearer <key> metadata');
    const admitted = await admit(peerHost(call.getPeer()), key);
    if ('refused' in admitted) {
      throw admitted.refused === 'throttled'
        ? new DomainError('RESOURCE_EXHAUSTED', `too many failed logins from this address; retry after ${admitted.retryAfter} s`)
        : new DomainError('UNAUTHENTICATED', 'unknown or revoked key');
    }
    return requireCaller(admitted.caller, [Role.ROLE_PROVIDER, Role.ROLE_ADMIN]);
  }

  function connect(call: Stream): void {
    let caller!: Caller;
    sessions.add(call);
    metrics.minerStreams('registry', 1);
    // A stream that never says hello holds a connection for nothing: it gets a while, then ends.
    const helloTimer = setTimeout(() => {
      if (!minerId) fail(call, new DomainError('DEADLINE_EXCEEDED', `send the hello within ${HELLO_TIMEOUT_MS / 1000} s of connecting`));
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();
    let minerId: string | undefined;
    let gpuByUuid = new Map<string, string>();
    // Messages are handled one after another, in order, once the key is checked.
    let queue = authenticate(call).then((c) => {
      caller = c;
    }, (err: unknown) => fail(call, err));

    const hello = async (h: Hello) => {
      // One stream is one miner: a second hello (perhaps naming another miner) is refused.
      if (minerId) throw invalid('hello', 'this stream has said hello already; open a stream per miner');
      const id = cleanMinerId(h.minerId, 'hello.miner_id');
      const specs = h.gpus.map((g) => GpuSpec.fromPartial({
        uuid: g.uuid, model: g.model, memoryGb: g.memoryGb, cudaCores: g.cudaCores || undefined,
        cudaVersion: g.cudaVersion || undefined, driverVersion: g.driverVersion || undefined, computeCapability: g.computeCapability || undefined,
        pricePerHourMicro: g.pricePerHourMicro, region: g.region || undefined,
      }));
      specs.forEach((s, i) => {
        if (!s.uuid) throw invalid(`hello.gpus[${i}].uuid`, 'is required (the hardware UUID nvidia-smi reports)');
      });
      const rows = await registerInventory(deps, caller, id, specs, 'hello.gpus');
      minerId = id;
      clearTimeout(helloTimer);
      gpuByUuid = new Map(rows.map((r) => [r.uuid ?? '', r.id]));
      for (const r of rows) streamOfGpu.set(r.id, call);
      const at = new Date();
      call.write({ kind: { $case: 'welcome', value: {
        minerId: id, heartbeatIntervalSeconds: deps.heartbeatIntervalSeconds, gpus: rows.map((r) => gpuMessage(r, at)),
      } } });
      deps.logger.info({ minerId: id, owner: caller.accountId, gpus: rows.length }, 'miner connected');
    };

    const heartbeat = async (gpus: GpuTelemetry[]) => {
      if (!minerId) throw invalid('heartbeat', 'send a hello with the inventory first');
      // A key revoked while the stream is open ends it (within the directory's cache time).
      if (!(await deps.keys.authenticate(metadataKey(call.metadata)))) throw new DomainError('UNAUTHENTICATED', 'the key was revoked');
      const { alive, readings, rejected } = readHeartbeat(gpus, gpuByUuid);
      deps.liveness.beat(alive, readings);
      deps.bus.publishTransient(deps.bus.subject(`miner.heartbeat.${minerId}`), MinerHeartbeat.encode({
        ownerId: caller.accountId, minerId, gpus: alive.length, at: new Date(),
      }).finish());
      call.write({ kind: { $case: 'ack', value: { accepted: alive.length, rejected } } });
    };

    call.on('data', (message: ConnectRequest) => {
      queue = queue.then(async () => {
        if (!sessions.has(call)) return;
        try {
          switch (message.kind?.$case) {
            case 'hello':
              return await hello(message.kind.value);
            case 'heartbeat':
              return await heartbeat(message.kind.value.gpus);
            default:
              throw invalid('kind', 'send a hello or a heartbeat');
          }
        } catch (err) {
          if (!(err instanceof DomainError)) deps.logger.error({ err, minerId }, 'miner session failed');
          fail(call, err);
        }
      });
    });
    call.on('end', () => {
      void queue.then(() => {
        if (forget(call)) call.end();
      });
    });
    call.on('cancelled', () => forget(call));
    call.on('error', () => forget(call));
  }

  return {
    binding: { definition: MinerServiceService, implementation: { connect }, streamsAuthenticateThemselves: true },
    abortAll() {
      void notices.stop();
      for (const call of [...sessions]) fail(call, new DomainError('UNAVAILABLE', 'the registry is shutting down; reconnect'));
    },
  };
}
