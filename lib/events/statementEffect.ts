import type { Knex } from '../db';
import type { Delivery } from './bus';

/**
 * An event's effect as one data-modifying statement: a knex builder or raw query that its
 * maker builds and never awaits, and what to do with its rows once it has committed.
 */
export interface EffectStatement {
  query: Knex.Raw | Knex.QueryBuilder;
  after?(rows: Record<string, unknown>[]): void;
}

/** The inbox row as a step of a consumer's own statement (`inbox_claim AS (<sql>)`), written only `when` that SQL condition holds. */
export type InboxStep = (when: string) => { sql: string; bindings: unknown[] };

/**
 * How a consumer applies one event in one statement: its effect (none: the inbox row alone),
 * or `own`, a statement of the consumer's making with the inbox step in it, which resolves to
 * false when it wrote nothing (the event then takes the transaction path); and what follows
 * the commit.
 */
export interface StatementPlan {
  effect?: EffectStatement;
  own?(inbox: InboxStep): Promise<boolean>;
  committed?(): void;
}

/** applyInOneStatement's answer when `own` did not apply the event. */
export const NOT_APPLIED = 'not applied';

const CLAIM = 'inbox_claim AS (INSERT INTO inbox (consumer, event_id) VALUES (?, ?))';
const LEADING_WITH = /^\s*with\s+(recursive\s+)?/i;

/**
 * Applies an event's effect and records it in the inbox in one statement, one round trip
 * (a transaction took four: BEGIN, inbox, effect, COMMIT). The inbox row is a step of the
 * effect's own WITH list, with no ON CONFLICT: an event seen before makes the whole
 * statement fail on the inbox's key, so the effect cannot commit without its row, nor twice
 * (two replicas racing: the second waits on the first's row, then fails).
 * Returns false for an event seen before. With `later`, what follows the commit is added to
 * it instead of run (a batch runs its events' follow-ups together, once it is through: the
 * notices they send then leave in one socket write).
 *
 * The effect's SQL is taken from knex (`toSQL()`, `?` placeholders) and bound again; it must
 * not contain a literal `?` (no jsonb `?` operators).
 */
export async function applyInOneStatement(
  db: Knex, consumer: string, delivery: Delivery, plan: StatementPlan, later?: (() => void)[],
): Promise<boolean | typeof NOT_APPLIED> {
  const eventId = delivery.envelope.eventId;
  const followUp = (fn: () => void) => (later ? later.push(fn) : fn());
  if (plan.own) {
    const step: InboxStep = (when) => ({ sql: `INSERT INTO inbox (consumer, event_id) SELECT ?, ? WHERE ${when}`, bindings: [consumer, eventId] });
    try {
      if (!(await plan.own(step))) return NOT_APPLIED;
    } catch (err) {
      if (isInboxDuplicate(err) || (await seenBefore(db, consumer, eventId))) return false;
      throw err;
    }
    if (plan.committed) followUp(plan.committed);
    return true;
  }
  if (!plan.effect) {
    // Nothing to do, but the inbox still says the event was taken (operators and the fleet
    // test read it as the record of what each consumer applied).
    const inserted = await db('inbox').insert({ consumer, event_id: eventId }).onConflict(['consumer', 'event_id']).ignore().returning('event_id');
    if (inserted.length && plan.committed) followUp(plan.committed);
    return inserted.length > 0;
  }
  const { sql, bindings } = plan.effect.query.toSQL();
  const leading = LEADING_WITH.exec(sql);
  // The effect's own WITH list takes the claim first (data-modifying steps must all be at
  // the top); a statement without one gets a WITH of the claim alone.
  const text = leading ? `${leading[0]}${CLAIM}, ${sql.slice(leading[0].length)}` : `WITH ${CLAIM} ${sql}`;
  let rows: Record<string, unknown>[];
  try {
    rows = (await db.raw(text, [consumer, eventId, ...bindings] as never)).rows;
  } catch (err) {
    // Which step's error PostgreSQL reports is not defined (an unread WITH step runs after
    // the main statement): an effect of its own failing on the redelivered event's rows hides
    // the inbox's duplicate, so a failure is also checked against the inbox.
    if (isInboxDuplicate(err) || (await seenBefore(db, consumer, eventId))) return false;
    throw err;
  }
  const { effect, committed } = plan;
  followUp(() => {
    effect.after?.(rows ?? []);
    committed?.();
  });
  return true;
}

/** An effect run in a transaction instead (a batch with events that need one): its rows once the transaction commits go to after(). */
export async function runEffect(effect: EffectStatement): Promise<Record<string, unknown>[]> {
  const result: unknown = await effect.query;
  if (Array.isArray(result)) return result;
  return (result as { rows?: Record<string, unknown>[] } | undefined)?.rows ?? [];
}

async function seenBefore(db: Knex, consumer: string, eventId: string): Promise<boolean> {
  return Boolean(await db('inbox').where({ consumer, event_id: eventId }).first('event_id'));
}

function isInboxDuplicate(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && e.constraint === 'inbox_pkey';
}
