import { type Caller, OWNERS, requireCaller } from '../../../lib/caller';
import { type Knex, transactionRetryingDeadlocks } from '../../../lib/db';
import { DomainError, notFound } from '../../../lib/errors';
import type { Outbox } from '../../../lib/events/outbox';
import type {
  GetMinerRequest, GetMinerResponse, MinerHeartbeatRequest, MinerHeartbeatResponse, RegisterMinerRequest, RegisterMinerResponse,
  UnregisterMinerRequest, UnregisterMinerResponse,
} from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { cleanMinerId } from './domain/gpuSpec';
import { bookedAt } from '../../../lib/gpuStatus';
import { statusChangedEvent, unregisteredEvent } from './events';
import { gpuMessage } from './gpuMessage';
import type { Liveness } from './liveness';
import type { MinerStore } from './minerStore';
import { registerInventory } from './registerInventory';
import type { RegistryStore } from './store';

export interface MinerHandlerDeps {
  db: Knex;
  store: RegistryStore;
  miners: MinerStore;
  outbox: Outbox;
  liveness: Liveness;
  defaultPriceMicro: number;
  heartbeatIntervalSeconds: number;
  now: () => Date;
}

/**
 * A provider's miners as wholes: register (or update) all their GPUs, keep them alive, look one
 * up, unregister it. A miner id names a rig inside its owner's account, so another account's
 * miner of the same name is simply not the caller's: "not found".
 */
export function createMinerHandlers(deps: MinerHandlerDeps) {
  const { db, store, miners, outbox, now } = deps;
  const known = async (caller: Caller, minerId: string) => {
    const miner = await miners.miner(db, caller.accountId, minerId);
    if (!miner.gpus.length && !miner.unregistered) throw notFound(`miner ${minerId}`);
    return miner;
  };
  return {
    async registerMiner(req: RegisterMinerRequest): Promise<RegisterMinerResponse> {
      const caller = requireCaller(req.caller, OWNERS);
      const minerId = cleanMinerId(req.minerId || 'default');
      const rows = await registerInventory(deps, caller, minerId, req.gpus, 'capabilities.gpu', req.existingOnly);
      const at = now();
      return { gpus: rows.map((r) => gpuMessage(r, at)) };
    },

    async minerHeartbeat(req: MinerHeartbeatRequest): Promise<MinerHeartbeatResponse> {
      const caller = requireCaller(req.caller, OWNERS);
      const minerId = cleanMinerId(req.minerId || 'default');
      let count: number;
      if (req.online) {
        // The same liveness path as the miner stream, flushed at once (REST beats are rare
        // and the caller expects to see its GPUs online when the call returns).
        const ids = await store.minerGpuIds(db, caller.accountId, minerId);
        deps.liveness.beat(ids);
        await deps.liveness.flush();
        count = ids.length;
      } else {
        const at = now();
        count = await db.transaction(async (trx) => {
          const touched = await store.markMinerOffline(trx, caller.accountId, minerId);
          await outbox.enqueue(trx, touched.filter((r) => r.was_online).map((r) => statusChangedEvent(r, true, 'miner_offline', at)));
          return touched.length;
        });
      }
      if (count === 0) throw new DomainError('NOT_FOUND', `miner ${minerId} has no GPUs registered; register the miner first`);
      return { gpus: count, heartbeatIntervalSeconds: deps.heartbeatIntervalSeconds };
    },

    async getMiner(req: GetMinerRequest): Promise<GetMinerResponse> {
      const caller = requireCaller(req.caller, OWNERS);
      const minerId = cleanMinerId(req.minerId);
      const miner = await known(caller, minerId);
      const at = now();
      return { minerId, gpus: miner.gpus.map((r) => gpuMessage(r, at)), unregisteredGpus: miner.unregistered };
    },

    async unregisterMiner(req: UnregisterMinerRequest): Promise<UnregisterMinerResponse> {
      const caller = requireCaller(req.caller, OWNERS);
      const minerId = cleanMinerId(req.minerId);
      const at = now();
      const gone = await transactionRetryingDeadlocks(db, async (trx) => {
        // Locked while deciding, so the answer holds for what is unregistered.
        await miners.lockMiner(trx, caller.accountId, minerId);
        const rows = await miners.lockGpus(trx, caller.accountId, minerId);
        if (!rows.length) throw notFound(`miner ${minerId}`);
        // Booked now or reserved ahead, as the registry last heard from booking.
        const booked = rows.filter((r) => r.booking_expires !== null && r.booking_expires > at);
        if (booked.length && !req.force) {
          throw new DomainError('FAILED_PRECONDITION',
            `miner ${minerId} has booked GPUs (${booked.map((r) => r.id).join(', ')}); ` +
            'deregister with force=true to cancel their bookings and refund the unused time', undefined,
            { booked: booked.map((r) => ({ gpu_id: r.id, booked_until: r.booking_expires!.toISOString(), running: bookedAt(r, at) })) });
        }
        const out = [];
        for (const row of rows) {
          const deleted = await store.deleteGpu(trx, row.id);
          if (deleted) {
            await outbox.enqueue(trx, [unregisteredEvent(deleted, booked.includes(row))]);
            out.push(deleted);
          }
        }
        return out;
      });
      return { gpus: gone.map((r) => gpuMessage(r, at)) };
    },
  };
}
