import { deleteInBatches, type Knex } from '../db';
import type { Logger } from '../logger';
import type { Worker } from '../service';
import type { EventBus } from './bus';
import { publishTraced } from './eventTracing';
import type { Outbox } from './outbox';

export interface RelayOptions {
  db: Knex;
  /** The outbox this process writes: its commits wake the relay at once. */
  outbox: Outbox;
  schema: string;
  bus: EventBus;
  logger: Logger;
  batchSize?: number;
  /** Poll interval: how soon rows written by another replica's process are seen. */
  pollMs?: number;
  /** After a local commit, how long to gather further commits into the same batch (5 ms). */
  lingerMs?: number;
  /** Published rows are deleted after this long (they are kept for audit and tests). */
  retentionMs?: number;
  /**
   * On the in-process bus only: rows published this recently are published again at start
   * (10 minutes). That bus forgets everything when the process ends, so events published
   * just before a stop or a crash may not have reached every consumer; their inboxes make
   * the second delivery harmless for those they did reach.
   */
  replayOnStartMs?: number;
}

interface Row {
  id: number;
  event_id: string;
  type: string;
  aggregate_id: string;
  envelope: Buffer;
}

/**
 * Publishes a schema's outbox: woken by each local commit that wrote events (or by a poll,
 * for rows other replicas wrote), it claims
 * pending rows in id order, publishes them (Nats-Msg-Id = event id) and marks them published
 * in the same transaction. If publishing fails (NATS away) the transaction rolls back, the
 * rows stay pending and the relay retries with backoff: nothing is lost, and an event
 * published twice (a crash between publish and commit) is dropped by the stream's
 * duplicate window.
 *
 * With several replicas, rows are claimed FOR UPDATE SKIP LOCKED under a transaction-level
 * advisory lock per schema, so exactly one relay publishes at a time and events leave in
 * commit order (two relays publishing side by side could reorder one aggregate's events).
 */
/** A node-pg connection from knex's pool, used directly for the relay's multi-statement claim. */
interface RawConnection {
  query(sql: string): Promise<{ rows: Row[] }[] & { rows: Row[] }>;
}

/** A string as an SQL literal (standard_conforming_strings: only quotes are doubled). */
const quoted = (text: string) => `'${text.replace(/'/g, "''")}'`;

export function createOutboxRelay(options: RelayOptions): Worker {
  const { db, bus, logger, schema } = options;
  const batchSize = options.batchSize ?? 500;
  const pollMs = options.pollMs ?? 100;
  const lingerMs = options.lingerMs ?? 5;
  const retentionMs = options.retentionMs ?? 24 * 3600 * 1000;
  const replayOnStartMs = options.replayOnStartMs ?? 10 * 60_000;
  const lockKey = `outbox:${schema}`;
  let running = false;
  let wake: (() => void) | undefined;
  // Set by commits that happen while a batch is being published, so none is slept through.
  let dirty = false;
  let loop: Promise<void> | undefined;
  let lastCleanup = 0;
  /** An outbox row as the bus takes it (the event id doubles as the stream's dedup id). */
  const outgoing = (r: Row) => ({ id: r.event_id, subject: bus.subject(r.type), aggregateId: r.aggregate_id, data: r.envelope });

  /**
   * Publishes one batch; returns how many rows it published (0: nothing to do or not our
   * turn). Claiming and marking are one statement inside the transaction; the publish happens
   * before COMMIT, so a failed publish (or a crash) rolls the marks back.
   */
  async function publishBatch(): Promise<number> {
    // BEGIN and the claim go as one simple query, one round trip instead of two (each costs
    // both processes a wake-up): it has no bind parameters, the lock key being the schema's
    // name as a quoted literal and the batch size a whole number.
    const claim = `BEGIN; WITH turn AS (SELECT pg_try_advisory_xact_lock(hashtext(${quoted(lockKey)})) AS ours)
       UPDATE outbox SET published_at = now()
       WHERE id IN (
         SELECT id FROM outbox, turn WHERE turn.ours AND published_at IS NULL
         ORDER BY id LIMIT ${Math.trunc(batchSize)} FOR UPDATE OF outbox SKIP LOCKED
       )
       RETURNING id, event_id, type, aggregate_id, envelope`;
    const conn = (await db.client.acquireConnection()) as RawConnection;
    try {
      const results = await conn.query(claim);
      const rows = results[1].rows;
      if (rows.length) {
        rows.sort((a, b) => Number(a.id) - Number(b.id));
        await publishTraced(bus, rows.map((r) => ({ ...outgoing(r), type: r.type })));
      }
      await conn.query('COMMIT');
      return rows.length;
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await db.client.releaseConnection(conn);
    }
  }

  /** Whether any row waits to be published (the pending index, no lock, no transaction). */
  async function pending(): Promise<boolean> {
    const { rows } = await db.raw('SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL) AS waiting');
    return rows[0].waiting === true;
  }

  async function cleanup(): Promise<void> {
    if (Date.now() - lastCleanup < 60_000) return;
    lastCleanup = Date.now();
    const before = new Date(Date.now() - retentionMs);
    await deleteInBatches(db, 'outbox', ['id'], (q) => q.whereNotNull('published_at').where('published_at', '<', before));
  }

  /** The in-process bus's restart: recent published rows again, in order, before new ones. */
  async function replayRecent(): Promise<void> {
    if (bus.kind !== 'memory' || replayOnStartMs <= 0) return;
    const since = new Date(Date.now() - replayOnStartMs);
    let replayed = 0;
    for (let after = 0; ;) {
      const rows: Row[] = await db('outbox').whereNotNull('published_at').where('published_at', '>', since)
        .where('id', '>', after).orderBy('id').limit(batchSize).select('id', 'event_id', 'type', 'aggregate_id', 'envelope');
      if (!rows.length) break;
      await bus.publish(rows.map(outgoing));
      replayed += rows.length;
      after = rows[rows.length - 1].id;
    }
    if (replayed) logger.info({ replayed, schema }, 'in-process bus: recent events published again for consumers that may have missed them');
  }

  async function run(): Promise<void> {
    await replayRecent().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not replay recent events'));
    let failures = 0;
    let byCommit = false;
    while (running) {
      // Woken by a commit: wait a moment so commits close together share one batch (one
      // relay transaction instead of one per event under load).
      if (byCommit && lingerMs > 0) await new Promise((r) => setTimeout(r, lingerMs));
      const woken = byCommit;
      byCommit = false;
      dirty = false;
      try {
        let published = 0;
        // A poll that no commit woke first asks, in one statement, whether anything waits:
        // six services polling ten times a second otherwise paid a transaction (three round
        // trips) each time, about a fifth of the database's statements under booking load.
        const worth = woken || failures > 0 || await pending();
        for (let n = worth ? await publishBatch() : 0; n > 0; n = n === batchSize ? await publishBatch() : 0) published += n;
        if (failures > 0) logger.info({ published }, 'outbox relay recovered');
        failures = 0;
        await cleanup();
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 30 === 0) logger.warn({ err: (err as Error).message, failures }, 'outbox relay cannot publish; events wait in the outbox');
      }
      if (!running) break;
      if (dirty && failures === 0) {
        byCommit = true;
        continue;
      }
      const delay = failures ? Math.min(5000, 250 * 2 ** Math.min(failures, 5)) : pollMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        wake = () => {
          byCommit = true;
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    name: `outbox-relay:${schema}`,
    start() {
      running = true;
      options.outbox.onCommit(() => {
        dirty = true;
        wake?.();
      });
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
  };
}
