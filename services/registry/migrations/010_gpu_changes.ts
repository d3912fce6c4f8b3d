import type { Knex, Migration } from '../../../lib/db';

/**
 * Which transaction last wrote each GPU, for the gateways' list replicas (ListGpuChanges).
 *
 * A table of its own, not a column of `gpus`: an indexed column there would change on every
 * heartbeat flush and make those updates non-HOT across the thirty indexes of `gpus`. Triggers
 * per statement mark every inserted, updated or deleted GPU with `pg_current_xact_id()`, so no
 * write path can skip it, whatever writes the row. A reader that goes on from the oldest
 * transaction running at its last read (`pg_snapshot_xmin`) therefore misses no commit, even
 * one that took its id earlier and committed later.
 */
export const migration010GpuChanges: Migration = {
  name: '010_gpu_changes',
  async up(db: Knex) {
    await db.raw('LOCK TABLE gpus IN SHARE ROW EXCLUSIVE MODE');
    await db.raw('CREATE TABLE gpu_changes (gpu_id text PRIMARY KEY, changed_xid xid8 NOT NULL)');
    await db.raw('INSERT INTO gpu_changes SELECT id, pg_current_xact_id() FROM gpus');
    await db.raw('CREATE INDEX gpu_changes_order ON gpu_changes (changed_xid, gpu_id)');
    // In id order, as the writes of gpus themselves lock their rows.
    await db.raw(`
      CREATE FUNCTION gpu_changes_mark() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        INSERT INTO gpu_changes (gpu_id, changed_xid) SELECT id, pg_current_xact_id() FROM changed ORDER BY id
        ON CONFLICT (gpu_id) DO UPDATE SET changed_xid = EXCLUDED.changed_xid;
        RETURN NULL;
      END $$`);
    for (const [event, table] of [['INSERT', 'NEW'], ['UPDATE', 'NEW'], ['DELETE', 'OLD']]) {
      await db.raw(`
        CREATE TRIGGER gpus_changes_${event.toLowerCase()} AFTER ${event} ON gpus
        REFERENCING ${table} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION gpu_changes_mark()`);
    }
  },
};
