import type { FieldError, GpuTelemetry } from '../../../../lib/gen/aitbc/marketplace/v1/miner';
import { GPU_LIMITS } from '../../../../lib/gpuLimits';
import type { Reading } from '../store';

/** Telemetry bounds: a value outside them is refused (the GPU's heartbeat still counts). */
const BOUNDS: [keyof Reading, keyof GpuTelemetry, string, number, number][] = [
  ['utilization', 'utilization', 'utilization', 0, 100], ['memory_used_gb', 'memoryUsedGb', 'memory_used_gb', 0, 4096],
  ['temperature_c', 'temperatureC', 'temperature_c', -20, 150], ['power_w', 'powerW', 'power_w', 0, 5000],
];

/** One decimal is what is shown and kept (and it turns a subnormal such as 5e-324, which a `real` column cannot hold, into 0). */
const tenth = (value: number) => Math.round(value * 10) / 10 || 0;

export interface HeartbeatReading {
  /** The GPUs alive, each once. */
  alive: string[];
  /** Their readings, parallel to `alive` (undefined: nothing usable reported). */
  readings: (Reading | undefined)[];
  rejected: FieldError[];
}

/**
 * A heartbeat's entries as the registry keeps them: known GPUs only, each once (the last entry
 * wins), at most a rig's worth; a value that is not a number (nvidia-smi's "[N/A]") is simply
 * not reported, one out of bounds is refused field by field, the rest is kept rounded.
 */
export function readHeartbeat(entries: GpuTelemetry[], gpuByUuid: ReadonlyMap<string, string>): HeartbeatReading {
  const rejected: FieldError[] = [];
  const byGpu = new Map<string, Reading | undefined>();
  entries.forEach((t, i) => {
    if (i >= GPU_LIMITS.gpusPerMinerMax) {
      if (i === GPU_LIMITS.gpusPerMinerMax) rejected.push({ field: `gpus[${i}]`, message: `at most ${GPU_LIMITS.gpusPerMinerMax} entries are read; the rest were ignored` });
      return;
    }
    const gpuId = gpuByUuid.get(t.uuid);
    if (!gpuId) {
      rejected.push({ field: `gpus[${i}].uuid`, message: `unknown GPU "${t.uuid.slice(0, 128)}"; report it in the hello first` });
      return;
    }
    const reading: Reading = { utilization: null, temperature_c: null, memory_used_gb: null, power_w: null };
    let any = false;
    for (const [key, wire, name, min, max] of BOUNDS) {
      const value = t[wire] as number;
      if (Number.isNaN(value)) continue;
      if (!Number.isFinite(value) || value < min || value > max) {
        rejected.push({ field: `gpus[${i}].${name}`, message: `must be from ${min} to ${max}` });
        continue;
      }
      reading[key] = tenth(value);
      any = true;
    }
    byGpu.set(gpuId, any ? reading : undefined);
  });
  return { alive: [...byGpu.keys()], readings: [...byGpu.values()], rejected };
}
