import type { Knex, Migration } from '../../../lib/db';

const SORT_COLUMNS = ['created_at', 'price_micro', 'average_rating', 'memory_gb'];
const KEY = 'model, model_key, catalog_key, memory_gb';

/**
 * What makes a model filter cheap at any table size.
 *
 * `gpu_model_counts` counts the live GPUs of each (name, its two keys, memory size): what a
 * model filter and `memory_min` look at. A model filter is matched against this small table
 * first, and a name none of whose GPUs has enough memory is dropped there ("4090 with 48 GB"
 * reads no GPU). Triggers on `gpus` keep the counts exact whatever writes a GPU (a
 * registration, a change, an unregister, a bulk load), in the same transaction, so the
 * table says what the GPUs say to every reader; a count that reaches 0 is deleted, so names
 * nobody lists any more are not matched (or kept) for ever.
 *
 * Each sort gets an index led by the model name, so a list of the GPUs of one name walks
 * only that name's GPUs, in order. A lower(region) index replaces the unused one on region.
 */
export const migration008ModelSearch: Migration = {
  name: '008_model_search',
  async up(db: Knex) {
    // No GPU may change between counting them and the triggers taking over.
    await db.raw('LOCK TABLE gpus IN SHARE ROW EXCLUSIVE MODE');
    await db.raw(`
      CREATE TABLE gpu_model_counts (
        model text NOT NULL,
        model_key text NOT NULL,
        catalog_key text NOT NULL,
        memory_gb integer NOT NULL,
        gpus integer NOT NULL CHECK (gpus >= 0),
        PRIMARY KEY (${KEY})
      )`);
    await db.raw(`INSERT INTO gpu_model_counts SELECT ${KEY}, count(*) FROM gpus WHERE deleted_at IS NULL GROUP BY ${KEY}`);
    // Matched as the GPUs are (ILIKE on the name, LIKE on its key, the catalogue's key); the
    // indexes keep that quick when someone has listed a great many names.
    await db.raw('CREATE INDEX gpu_model_counts_name_trgm ON gpu_model_counts USING gin (model public.gin_trgm_ops)');
    await db.raw('CREATE INDEX gpu_model_counts_key_trgm ON gpu_model_counts USING gin (model_key public.gin_trgm_ops)');
    await db.raw('CREATE INDEX gpu_model_counts_catalog_key ON gpu_model_counts (catalog_key)');
    await db.raw(COUNT_FUNCTIONS);
    // Inserts and deletes are counted per statement (a bulk load groups its rows once),
    // changes per row and only when a counted column or the liveness changes: heartbeats and
    // bookings never fire it.
    await db.raw(`
      CREATE TRIGGER gpus_count_inserted AFTER INSERT ON gpus
      REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION gpu_model_counts_inserted()`);
    await db.raw(`
      CREATE TRIGGER gpus_count_deleted AFTER DELETE ON gpus
      REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION gpu_model_counts_deleted()`);
    await db.raw(`
      CREATE TRIGGER gpus_count_updated AFTER UPDATE OF ${KEY}, deleted_at ON gpus FOR EACH ROW
      WHEN ((OLD.model, OLD.model_key, OLD.catalog_key, OLD.memory_gb, OLD.deleted_at IS NULL)
        IS DISTINCT FROM (NEW.model, NEW.model_key, NEW.catalog_key, NEW.memory_gb, NEW.deleted_at IS NULL))
      EXECUTE FUNCTION gpu_model_counts_updated()`);
    const live = 'WHERE deleted_at IS NULL';
    for (const column of SORT_COLUMNS) {
      const name = column.replace(/_.*/, '');
      await db.raw(`CREATE INDEX gpus_model_${name} ON gpus (model, ${column}, id) ${live}`);
      await db.raw(`CREATE INDEX gpus_online_model_${name} ON gpus (model, ${column}, id) ${live} AND online`);
    }
    // Not partial: PostgreSQL takes an expression's statistics only from a whole-table index,
    // and without them it guesses a region matches 0.5 % of GPUs and prefers this index.
    await db.raw('DROP INDEX gpus_region');
    await db.raw('CREATE INDEX gpus_region ON gpus (lower(region))');
  },
};

/**
 * The counting. Counts move in key order, so two registrations of the same new models wait
 * for each other instead of deadlocking. The functions keep the schema they were made in (a
 * bulk load may name registry.gpus from another search_path).
 */
const COUNT_FUNCTIONS = `
  CREATE FUNCTION gpu_model_counts_add(rows jsonb) RETURNS void LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO gpu_model_counts AS c (${KEY}, gpus)
      SELECT r.model, r.model_key, r.catalog_key, r.memory_gb, r.n
      FROM jsonb_to_recordset(rows) AS r(model text, model_key text, catalog_key text, memory_gb integer, n integer)
      ORDER BY 1, 2, 3, 4
    ON CONFLICT (${KEY}) DO UPDATE SET gpus = c.gpus + EXCLUDED.gpus;
  $$;
  CREATE FUNCTION gpu_model_counts_remove(rows jsonb) RETURNS void LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  DECLARE r record;
  BEGIN
    -- One conditional statement each: decrement (the row lock orders concurrent changes),
    -- then drop the row if that made it 0. Deciding from a count read earlier would let two
    -- decrements both see 2 and take it below 1.
    FOR r IN SELECT * FROM jsonb_to_recordset(rows) AS x(model text, model_key text, catalog_key text, memory_gb integer, n integer) ORDER BY 1, 2, 3, 4 LOOP
      UPDATE gpu_model_counts SET gpus = gpus - r.n WHERE (${KEY}) = (r.model, r.model_key, r.catalog_key, r.memory_gb);
      DELETE FROM gpu_model_counts WHERE (${KEY}) = (r.model, r.model_key, r.catalog_key, r.memory_gb) AND gpus <= 0;
    END LOOP;
  END $$;
  CREATE FUNCTION gpu_model_counts_inserted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    PERFORM gpu_model_counts_add((SELECT jsonb_agg(g) FROM (SELECT ${KEY}, count(*) AS n FROM inserted WHERE deleted_at IS NULL GROUP BY ${KEY}) g));
    RETURN NULL;
  END $$;
  CREATE FUNCTION gpu_model_counts_deleted() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  BEGIN
    PERFORM gpu_model_counts_remove((SELECT jsonb_agg(g) FROM (SELECT ${KEY}, count(*) AS n FROM deleted WHERE deleted_at IS NULL GROUP BY ${KEY}) g));
    RETURN NULL;
  END $$;
  CREATE FUNCTION gpu_model_counts_updated() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
  DECLARE
    was jsonb := CASE WHEN OLD.deleted_at IS NULL THEN jsonb_build_array(jsonb_build_object(
      'model', OLD.model, 'model_key', OLD.model_key, 'catalog_key', OLD.catalog_key, 'memory_gb', OLD.memory_gb, 'n', 1)) END;
    now_is jsonb := CASE WHEN NEW.deleted_at IS NULL THEN jsonb_build_array(jsonb_build_object(
      'model', NEW.model, 'model_key', NEW.model_key, 'catalog_key', NEW.catalog_key, 'memory_gb', NEW.memory_gb, 'n', 1)) END;
  BEGIN
    -- A GPU moving from one count to another takes the two rows in key order, as a bulk
    -- statement does (adding first is fine: both happen in this transaction).
    IF (NEW.model, NEW.model_key, NEW.catalog_key, NEW.memory_gb) < (OLD.model, OLD.model_key, OLD.catalog_key, OLD.memory_gb) THEN
      PERFORM gpu_model_counts_add(now_is);
      PERFORM gpu_model_counts_remove(was);
    ELSE
      PERFORM gpu_model_counts_remove(was);
      PERFORM gpu_model_counts_add(now_is);
    END IF;
    RETURN NULL;
  END $$;`;
