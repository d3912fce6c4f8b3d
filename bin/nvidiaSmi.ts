import { execFileSync } from 'node:child_process';
import type { GpuInventory, GpuTelemetry } from '../lib/gen/aitbc/marketplace/v1/miner';
import { GPU_LIMITS } from '../lib/gpuLimits';

/** Runs nvidia-smi with arguments and returns what it printed (throws as execFileSync does). */
export type SmiRunner = (args: string[]) => string;

export const runNvidiaSmi: SmiRunner = (args) => execFileSync('nvidia-smi', args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });

const INVENTORY = ['--query-gpu=uuid,name,memory.total,compute_cap,driver_version', '--format=csv,noheader,nounits'];
const TELEMETRY = ['--query-gpu=uuid,utilization.gpu,memory.used,temperature.gpu,power.draw', '--format=csv,noheader,nounits'];

/** nvidia-smi's CSV: one GPU a line, fields trimmed, "[N/A]" (not supported here) as empty. */
const rows = (out: string) => out.trim().split('\n').filter((l) => l.trim()).map((l) => l.split(',').map((f) => f.trim().replace(/^\[.*\]$/, '')));
/** A number nvidia-smi printed; NaN when it printed none ("[N/A]", garbage): not reported. */
const number = (text: string | undefined) => (text && Number.isFinite(Number(text)) ? Number(text) : Number.NaN);

/** Why the host's GPUs could not be read, in words an operator can act on. */
export class NoGpusError extends Error {}

/**
 * Every GPU on the host as nvidia-smi reports it: UUID, name (mapped to the catalogue by the
 * registry), memory in MiB as reported (the registry converts: 143771 → 140 GB), compute
 * capability, driver and CUDA versions.
 */
export function readGpus(run: SmiRunner = runNvidiaSmi, onSkip: (line: string, why: string) => void = () => undefined): GpuInventory[] {
  let out: string;
  try {
    out = run(INVENTORY);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new NoGpusError('nvidia-smi was not found on PATH (no NVIDIA driver on this host?); use --simulate N to run with simulated GPUs');
    throw new NoGpusError(`nvidia-smi failed: ${(e.stderr || e.message).toString().trim().slice(0, 300)}`);
  }
  let cuda = '';
  try {
    cuda = /CUDA Version:\s*([\d.]+)/.exec(run([]))?.[1] ?? '';
  } catch {
    // The CUDA version is a detail; the GPUs are listed without it.
  }
  const gpus: GpuInventory[] = [];
  const seen = new Set<string>();
  for (const [uuid, name, memoryMiB, cc, driver] of rows(out)) {
    const line = [uuid, name].join(', ').slice(0, 200);
    const mib = number(memoryMiB);
    // A line that cannot describe a GPU is left out (and said), rather than listed wrong.
    if (!uuid || !name) onSkip(line, 'no uuid or name');
    else if (seen.has(uuid)) onSkip(line, 'the same uuid twice');
    else if (!(mib > 0 && mib <= GPU_LIMITS.memoryReportedMax)) onSkip(line, `memory.total ${memoryMiB} is not a size in MiB`);
    else {
      seen.add(uuid);
      // MiB as reported (the registry's rule: 1,024 and over is MiB); a GPU under 1 GiB is 1 GB.
      gpus.push({ uuid, model: name, memoryGb: Math.max(GPU_LIMITS.memoryMibFrom, Math.round(mib)), cudaCores: 0, cudaVersion: cuda, driverVersion: driver ?? '', computeCapability: cc ?? '', region: '' });
    }
  }
  if (!gpus.length) throw new NoGpusError('nvidia-smi lists no GPUs this agent can report on this host; use --simulate N to run with simulated GPUs');
  return gpus;
}

/** Utilisation, memory used, temperature and power per GPU, for a heartbeat; [] when nvidia-smi cannot say. */
export function readTelemetry(run: SmiRunner = runNvidiaSmi): GpuTelemetry[] {
  try {
    return rows(run(TELEMETRY)).map(([uuid, util, memMiB, temp, power]) => ({
      uuid, utilization: number(util), memoryUsedGb: number(memMiB) / 1024, temperatureC: number(temp), powerW: number(power), healthy: true,
    }));
  } catch {
    return [];
  }
}
