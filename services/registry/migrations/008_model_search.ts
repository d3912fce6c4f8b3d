import type { Knex, Migration } from '../../../lib/db';

const SORT_COLUMNS = ['created_at', 'price_micro', 'average_rating', 'memory_gb'];

/**
 * What makes a model filter cheap at any table size.
 *
 * `gpu_models` holds every model name ever listed, with its two keys and the most memory any
 * GPU of that name has had. A model filter is matched against this small table first, and a
 * name whose memory cannot reach `memory_min` is dropped there: "4090 with 48 GB" is answered
 * without reading a GPU. Triggers keep it whole whatever writes `gpus` (registration, a bulk
 * load, a future path): a name is added when a GPU first has it, and `memory_max` only grows,
 * so a name is never missing and never wrongly dropped (a name with no GPU left costs one
 * empty index probe).
 *
 * Each sort gets an index led by the model name, so a list of the GPUs of one name walks
 * only that name's GPUs, in order. A lower(region) index replaces the unused one on region
 * (the list compares regions case-insensitively).
 */
export const migration008ModelSearch: Migration = {
  name: '008_model_search',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE gpu_models (
        model text PRIMARY KEY,
        model_key text NOT NULL,
        catalog_key text NOT NULL,
        memory_max integer NOT NULL
      )`);
    await db.raw(`
      INSERT INTO gpu_models (model, model_key, catalog_key, memory_max)
      SELECT model, min(model_key), min(catalog_key), max(memory_gb) FROM gpus GROUP BY model`);
    // Matched as the GPUs were (ILIKE on the name, LIKE on its key, the catalogue's key); the
    // indexes keep that quick when someone has listed a great many names.
    await db.raw('CREATE INDEX gpu_models_name_trgm ON gpu_models USING gin (model public.gin_trgm_ops)');
    await db.raw('CREATE INDEX gpu_models_key_trgm ON gpu_models USING gin (model_key public.gin_trgm_ops)');
    await db.raw('CREATE INDEX gpu_models_catalog_key ON gpu_models (catalog_key)');
    // Two statements, so no existing row is locked unless its memory_max really grows: an
    // INSERT … ON CONFLICT DO UPDATE locks the row even when its WHERE is false, and two
    // registrations of different models in different orders could then deadlock.
    const noteModels = (rows: string) => `
      INSERT INTO gpu_models (model, model_key, catalog_key, memory_max)
        SELECT model, min(model_key), min(catalog_key), max(memory_gb) FROM ${rows} GROUP BY model
        ORDER BY model ON CONFLICT (model) DO NOTHING;
      UPDATE gpu_models m SET memory_max = n.memory_max
        FROM (SELECT model, max(memory_gb) AS memory_max FROM ${rows} GROUP BY model) n
        WHERE m.model = n.model AND m.memory_max < n.memory_max;`;
    // The functions keep the schema they were made in (a bulk load may name registry.gpus from
    // another search_path).
    // Inserts are noted per statement (a bulk load groups its rows once); updates per row, and
    // only when the name or a larger memory appears (heartbeats and bookings never fire it).
    await db.raw(`
      CREATE FUNCTION gpu_models_note_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN ${noteModels('inserted')} RETURN NULL; END $$`);
    await db.raw(`
      CREATE FUNCTION gpu_models_note_updated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        INSERT INTO gpu_models (model, model_key, catalog_key, memory_max)
          VALUES (NEW.model, NEW.model_key, NEW.catalog_key, NEW.memory_gb) ON CONFLICT (model) DO NOTHING;
        UPDATE gpu_models SET memory_max = NEW.memory_gb WHERE model = NEW.model AND memory_max < NEW.memory_gb;
        RETURN NULL;
      END $$`);
    await db.raw(`
      CREATE TRIGGER gpus_note_models_inserted AFTER INSERT ON gpus
      REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION gpu_models_note_inserted()`);
    await db.raw(`
      CREATE TRIGGER gpus_note_models_updated AFTER UPDATE OF model, memory_gb ON gpus
      FOR EACH ROW WHEN (OLD.model IS DISTINCT FROM NEW.model OR OLD.memory_gb < NEW.memory_gb)
      EXECUTE FUNCTION gpu_models_note_updated()`);
    const live = 'WHERE deleted_at IS NULL';
    for (const column of SORT_COLUMNS) {
      const name = column.replace(/_.*/, '');
      await db.raw(`CREATE INDEX gpus_model_${name} ON gpus (model, ${column}, id) ${live}`);
      await db.raw(`CREATE INDEX gpus_online_model_${name} ON gpus (model, ${column}, id) ${live} AND online`);
    }
    await db.raw('DROP INDEX gpus_region');
    // Not partial: PostgreSQL takes an expression's statistics only from a whole-table index,
    // and without them it guesses a region matches 0.5 % of GPUs and prefers this index.
    await db.raw('CREATE INDEX gpus_region ON gpus (lower(region))');
  },
};
