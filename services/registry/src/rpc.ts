import { requireCaller, Role, seesAll } from '../../../lib/caller';
import { type Knex, transactionRetryingDeadlocks } from '../../../lib/db';
import type { Outbox } from '../../../lib/events/outbox';
import { DomainError, invalid, notFound } from '../../../lib/errors';
import { isId, newId } from '../../../lib/ids';
import type { ServiceBinding } from '../../../lib/grpcServer';
import { RegistryServiceService, type RegistryServiceServer } from '../../../lib/gen/aitbc/marketplace/v1/registry';
import { cleanMinerId, cleanSpec } from './domain/gpuSpec';
import { encodeCursor, planList } from '../../../lib/gpuListQuery';
import { gpuMessage } from './gpuMessage';
import { listGpuChanges } from './gpuChanges';
import { unregisteredEvent, upsertEvents } from './events';
import type { Liveness } from './liveness';
import type { GpuRow, RegistryStore } from './store';
import { createOfferHandlers } from './offerHandlers';
import { offerStore } from './offerStore';
import { createMinerHandlers } from './minerHandlers';
import { minerStore } from './minerStore';

export interface RegistryDeps {
  db: Knex;
  store: RegistryStore;
  outbox: Outbox;
  liveness: Liveness;
  /** Price for a GPU a miner reports without one (micro-units per hour). */
  defaultPriceMicro: number;
  heartbeatIntervalSeconds: number;
  now?: () => Date;
}

const OWNERS = [Role.ROLE_PROVIDER, Role.ROLE_ADMIN];
const ANYONE = [Role.ROLE_CLIENT, Role.ROLE_PROVIDER, Role.ROLE_ADMIN, Role.ROLE_SERVICE];

/** gRPC handlers of aitbc.marketplace.v1.RegistryService. */
export function createRegistryHandlers(deps: RegistryDeps): ServiceBinding<RegistryServiceServer> {
  const { db, store, outbox } = deps;
  const now = deps.now ?? (() => new Date());

  /** A GPU the caller may act on as its owner; someone else's GPU is "not found". */
  async function ownedGpu(id: string, caller: { accountId: string; role: Role }): Promise<GpuRow> {
    const row = isId(id, 'gpu') ? await store.getGpu(db, id) : undefined;
    if (!row || (!seesAll(caller) && row.owner_id !== caller.accountId)) throw notFound(`GPU ${id}`);
    return row;
  }

  const offerHandlers = createOfferHandlers({ db, offers: offerStore, outbox, now, ownedGpu });
  const minerHandlers = createMinerHandlers({ ...deps, miners: minerStore, now });

  return {
    definition: RegistryServiceService,
    implementation: {
      ...offerHandlers,
      ...minerHandlers,
      async registerGpu(req) {
        const caller = requireCaller(req.caller, OWNERS);
        const minerId = cleanMinerId(req.minerId || 'default');
        if (!req.spec) throw invalid('gpu', 'is required');
        const spec = cleanSpec(req.spec);
        if (spec.priceMicro === undefined) throw invalid('price_per_hour', 'is required');
        const id = newId('gpu');
        const result = await transactionRetryingDeadlocks(db, async (trx) => {
          const upserted = await store.upsertGpu(trx, {
            id, ownerId: caller.accountId, minerId, hwKey: spec.uuid ?? id, spec, defaultPriceMicro: deps.defaultPriceMicro,
          });
          await outbox.enqueue(trx, upsertEvents(upserted, now()));
          return upserted;
        });
        deps.liveness.registered([result.row.id]);
        return { gpu: gpuMessage(result.row, now()), created: result.created };
      },

      async getGpu(req) {
        requireCaller(req.caller, ANYONE);
        const row = isId(req.id, 'gpu') ? await store.getGpu(db, req.id) : undefined;
        if (!row) throw notFound(`GPU ${req.id}`);
        return { gpu: gpuMessage(row, now()) };
      },

      async listGpus(req) {
        requireCaller(req.caller, ANYONE);
        const plan = planList(req);
        const rows = await store.listGpus(db, plan);
        const page = rows.slice(0, plan.limit);
        const at = now();
        let nextCursor = '';
        if (rows.length > plan.limit) {
          const last = page[page.length - 1];
          const value = plan.sort.column === 'created_at' ? last.created_at.toISOString()
            : plan.sort.column === 'average_rating' ? Number(last.average_rating) : last[plan.sort.column];
          nextCursor = encodeCursor(plan.sort, value, last.id);
        }
        return { gpus: page.map((r) => gpuMessage(r, at)), nextCursor };
      },

      async listGpuChanges(req) {
        requireCaller(req.caller, [Role.ROLE_SERVICE]);
        return listGpuChanges(db, req, now());
      },

      async unregisterGpu(req) {
        const caller = requireCaller(req.caller, OWNERS);
        const row = await ownedGpu(req.id, caller);
        const booked = row.booking_expires !== null && row.booking_expires > now();
        if (booked && !req.force) {
          throw new DomainError('FAILED_PRECONDITION',
            `GPU ${row.id} is booked until ${row.booking_expires!.toISOString()}; ` +
            'unregister with force=true to cancel the booking and refund its unused time');
        }
        const deleted = await transactionRetryingDeadlocks(db, async (trx) => {
          const gone = await store.deleteGpu(trx, row.id);
          if (gone) await outbox.enqueue(trx, [unregisteredEvent(gone, booked)]);
          return gone;
        });
        if (!deleted) throw notFound(`GPU ${req.id}`);
        return { gpu: gpuMessage(deleted, now()) };
      },
    },
  };
}
