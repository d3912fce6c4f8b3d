import type { Knex, Migration } from '../../../lib/db';

/**
 * What a real GPU host reports beyond the spec: its driver version (from registration) and
 * the latest telemetry its miner sent with a heartbeat (written by the liveness flush, never
 * announced as an event: it changes every beat and only GPU details show it). Miner lookups
 * by owner include unregistered GPUs (a deregistered miner's history stays its owner's).
 */
export const migration006MinerTelemetry: Migration = {
  name: '006_miner_telemetry',
  async up(db: Knex) {
    await db.raw(`
      ALTER TABLE gpus
        ADD COLUMN driver_version text NOT NULL DEFAULT '',
        ADD COLUMN utilization real,
        ADD COLUMN temperature_c real,
        ADD COLUMN memory_used_gb real,
        ADD COLUMN power_w real,
        ADD COLUMN telemetry_at timestamptz;
      CREATE INDEX gpus_owner_miner ON gpus (owner_id, miner_id);
    `);
  },
};
