import pg from 'pg';
import { EventEnvelope, PriceChanged } from '../../lib/gen/aitbc/marketplace/v1/events';

export const FLEET_SCHEMAS = ['accounts', 'registry', 'pricing', 'reviews', 'booking', 'market'];

/** SQL over the fleet's database: what the services stored, read after the load. */
export class FleetDatabase {
  constructor(private readonly client: pg.Client) {}

  static async open(url: string): Promise<FleetDatabase> {
    const client = new pg.Client({ connectionString: url, statement_timeout: 30_000 });
    await client.connect();
    return new FleetDatabase(client);
  }

  async rows<T = Record<string, unknown>>(sql: string, values: unknown[] = []): Promise<T[]> {
    return (await this.client.query(sql, values)).rows as T[];
  }

  async count(sql: string, values: unknown[] = []): Promise<number> {
    const [row] = await this.rows<{ n: string }>(sql, values);
    return Number(row.n);
  }

  close(): Promise<void> {
    return this.client.end();
  }

  /** Every outbox event of every service: id, type, source schema. */
  private allEvents(): string {
    return FLEET_SCHEMAS.map((s) => `SELECT event_id, type, '${s}' AS source FROM ${s}.outbox`).join(' UNION ALL ');
  }

  /** Events still waiting in an outbox. */
  unpublished(): Promise<number> {
    return this.count(`SELECT count(*) AS n FROM (${FLEET_SCHEMAS.map((s) => `SELECT 1 FROM ${s}.outbox WHERE published_at IS NULL`).join(' UNION ALL ')}) u`);
  }

  /**
   * For each consumer and each event type it applies: events of that type it has not
   * applied. A consumer that applied one event of a type must apply them all (none lost).
   */
  async missingFromInboxes(): Promise<{ consumer: string; type: string; missing: number; applied: number }[]> {
    const out: { consumer: string; type: string; missing: number; applied: number }[] = [];
    for (const s of FLEET_SCHEMAS) {
      const rows = await this.rows<{ consumer: string; type: string; applied: string; total: string }>(
        `WITH ev AS (${this.allEvents()}),
              takes AS (SELECT DISTINCT i.consumer, ev.type FROM ${s}.inbox i JOIN ev USING (event_id))
         SELECT t.consumer, t.type,
                (SELECT count(*) FROM ${s}.inbox i JOIN ev USING (event_id) WHERE i.consumer = t.consumer AND ev.type = t.type) AS applied,
                (SELECT count(*) FROM ev WHERE ev.type = t.type) AS total
           FROM takes t`);
      for (const r of rows) out.push({ consumer: r.consumer, type: r.type, applied: Number(r.applied), missing: Number(r.total) - Number(r.applied) });
    }
    return out;
  }

  async deadLetters(): Promise<number> {
    return this.count(`SELECT count(*) AS n FROM (${FLEET_SCHEMAS.map((s) => `SELECT 1 FROM ${s}.dead_letters`).join(' UNION ALL ')}) d`);
  }

  /** Pairs of bookings of one GPU whose used time overlaps (start to the earlier of end and ended_at). */
  overlaps(): Promise<Record<string, unknown>[]> {
    const used = `tstzrange(start_time, LEAST(end_time, COALESCE(ended_at, end_time)), '[)')`;
    return this.rows(
      `WITH u AS (SELECT booking_id, gpu_id, status, end_reason, start_time, end_time, ended_at, created_at, ${used} AS r FROM booking.bookings)
       SELECT a.booking_id AS a, a.status AS a_status, a.end_reason AS a_reason, a.start_time AS a_start, a.end_time AS a_end, a.ended_at AS a_ended, a.created_at AS a_created,
              b.booking_id AS b, b.status AS b_status, b.end_reason AS b_reason, b.start_time AS b_start, b.end_time AS b_end, b.ended_at AS b_ended, b.created_at AS b_created
         FROM u a JOIN u b ON a.gpu_id = b.gpu_id AND a.booking_id < b.booking_id
        WHERE NOT isempty(a.r) AND NOT isempty(b.r) AND a.r && b.r`);
  }

  /** Bookings announced as ended more than once, and ended bookings never announced. */
  async endings(): Promise<{ endedTwice: number; endedUnannounced: number; expired: number }> {
    const endedTwice = await this.count(`SELECT count(*) AS n FROM (SELECT aggregate_id FROM booking.outbox WHERE type = 'booking.ended' GROUP BY 1 HAVING count(*) > 1) x`);
    const endedUnannounced = await this.count(`SELECT count(*) AS n FROM booking.bookings b WHERE status <> 'active'
      AND NOT EXISTS (SELECT 1 FROM booking.outbox o WHERE o.type = 'booking.ended' AND o.aggregate_id = b.booking_id)`);
    const expired = await this.count(`SELECT count(*) AS n FROM booking.bookings WHERE status = 'completed'`);
    return { endedTwice, endedUnannounced, expired };
  }

  /** The journal: its total, transactions that do not sum to zero, balances that differ from their entries. */
  async ledger(): Promise<{ total: number; unbalancedTx: number; balancesOff: number; transactions: number }> {
    const [sum] = await this.rows<{ total: string | null; tx: string }>('SELECT sum(amount_micro) AS total, count(DISTINCT tx_id) AS tx FROM accounts.ledger_entries');
    const unbalancedTx = await this.count('SELECT count(*) AS n FROM (SELECT tx_id FROM accounts.ledger_entries GROUP BY tx_id HAVING sum(amount_micro) <> 0) x');
    const balancesOff = await this.count(`SELECT count(*) AS n FROM accounts.balances b
      LEFT JOIN (SELECT account_id,
                        COALESCE(sum(amount_micro) FILTER (WHERE bucket = 'available'), 0) AS available,
                        COALESCE(sum(amount_micro) FILTER (WHERE bucket = 'held'), 0) AS held,
                        COALESCE(sum(amount_micro) FILTER (WHERE bucket = 'earnings'), 0) AS earnings
                   FROM accounts.ledger_entries GROUP BY account_id) e USING (account_id)
      WHERE (b.available_micro, b.held_micro, b.earnings_micro) IS DISTINCT FROM (COALESCE(e.available, 0), COALESCE(e.held, 0), COALESCE(e.earnings, 0))`);
    return { total: Number(sum.total ?? 0), unbalancedTx, balancesOff, transactions: Number(sum.tx) };
  }

  /** price.changed events per model, in order: each must start from the price the one before ended at (no tick applied twice or from a stale state). */
  async priceChainBreaks(): Promise<{ moves: number; breaks: number }> {
    const rows = await this.rows<{ envelope: Buffer }>(`SELECT envelope FROM pricing.outbox WHERE type = 'price.changed' ORDER BY id`);
    const last = new Map<string, string>();
    let breaks = 0;
    for (const { envelope } of rows) {
      const e = PriceChanged.decode(EventEnvelope.decode(envelope).payload);
      const prev = last.get(e.modelKey);
      if (prev !== undefined && String(e.previousPriceMicro) !== prev) breaks++;
      last.set(e.modelKey, String(e.priceMicro));
    }
    return { moves: rows.length, breaks };
  }
}
