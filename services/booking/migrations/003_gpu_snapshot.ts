import type { Knex, Migration } from '../../../lib/db';

/**
 * The GPU facts booking needs, kept from gpu.* events (no call to the registry on the
 * booking path): owner, rig, model, listed price, liveness. A GPU seen only through a status
 * change (registered before this service kept the snapshot) has no model yet: the first
 * booking of it asks the registry once and fills it in. `window_checked` marks each booking
 * once its start has been checked against its GPU's liveness: bookings that start at once
 * when made, reservations when their window opens.
 */
export const migration003GpuSnapshot: Migration = {
  name: '003_gpu_snapshot',
  async up(db: Knex) {
    await db.raw(`
      CREATE TABLE gpus (
        gpu_id text PRIMARY KEY,
        owner_id text,
        miner_id text,
        model text,
        model_key text,
        price_micro bigint,
        online boolean NOT NULL,
        -- When the registry says liveness last changed (the event's time, not its arrival).
        status_changed_at timestamptz,
        unregistered_at timestamptz
      )`);
    await db.raw('ALTER TABLE bookings ADD COLUMN window_checked boolean');
    await db.raw("UPDATE bookings SET window_checked = (status <> 'active' OR start_time <= now())");
    await db.raw('ALTER TABLE bookings ALTER COLUMN window_checked SET NOT NULL, ALTER COLUMN window_checked SET DEFAULT true');
    await db.raw("CREATE INDEX bookings_windows_due ON bookings (start_time) WHERE status = 'active' AND NOT window_checked");
  },
};
