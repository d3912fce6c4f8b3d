import { invalid } from '../../../../lib/errors';
import { requireSafeText } from '../../../../lib/text';
import { GPU_LIMITS as L, isMinerId } from '../../../../lib/gpuLimits';
import { MICRO_PER_UNIT } from '../../../../lib/money';
import type { GpuSpec } from '../../../../lib/gen/aitbc/marketplace/v1/registry';

/** A spec after validation: trimmed text, known bounds, `undefined` where the caller said nothing. */
export interface CleanSpec {
  uuid?: string;
  model: string;
  memoryGb: number;
  cudaCores?: number;
  computeCapability?: string;
  cudaVersion?: string;
  driverVersion?: string;
  region?: string;
  priceMicro?: number;
  description?: string;
  capabilities?: string[];
}

const re = (pattern: string) => new RegExp(pattern);
const UUID = re(L.uuidPattern);
const REGION = re(L.regionPattern);
const CC = re(L.computeCapabilityPattern);
const CUDA = re(L.cudaVersionPattern);
const DRIVER = re(L.driverVersionPattern);

/** Validates a miner id (the rig's name inside its owner's account). */
export function cleanMinerId(minerId: string, field = 'miner_id'): string {
  const value = minerId.trim();
  if (!isMinerId(value)) throw invalid(field, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  return value;
}

/**
 * Checks a GPU spec against GPU_LIMITS, field by field, naming the first bad field.
 * `prefix` is prepended to field names (for example `gpus[2].` for a miner's inventory).
 */
export function cleanSpec(spec: GpuSpec, prefix = ''): CleanSpec {
  const f = (name: string) => prefix + name;
  const model = spec.model.trim();
  if (!model) throw invalid(f('model'), 'is required');
  if (model.length > L.modelMaxLength) throw invalid(f('model'), `must be at most ${L.modelMaxLength} characters`);
  requireSafeText(f('model'), model);
  if (spec.memoryGb === undefined) throw invalid(f('memory_gb'), 'is required');
  checkInt(spec.memoryGb, L.memoryGbMin, L.memoryReportedMax, f('memory_gb'));
  if (spec.cudaCores !== undefined) checkInt(spec.cudaCores, 0, L.cudaCoresMax, f('cuda_cores'));
  const uuid = spec.uuid.trim() || undefined;
  if (uuid !== undefined && !UUID.test(uuid)) throw invalid(f('uuid'), 'must be 1-128 letters, digits, ".", "_", ":" or "-"');
  const computeCapability = optionalMatch(spec.computeCapability, CC, f('compute_capability'), 'must look like "8.9"');
  const cudaVersion = optionalMatch(spec.cudaVersion, CUDA, f('cuda_version'), 'must look like "12.4"');
  const driverVersion = optionalMatch(spec.driverVersion, DRIVER, f('driver_version'), 'must look like "550.54.15"');
  const region = optionalMatch(spec.region, REGION, f('region'), 'must be 1-64 letters, digits, ".", "_" or "-"');
  if (spec.pricePerHourMicro !== undefined) {
    const price = spec.pricePerHourMicro;
    if (!Number.isSafeInteger(price) || price <= 0) throw invalid(f('price_per_hour'), 'must be greater than 0');
    if (price > L.priceMax * MICRO_PER_UNIT) throw invalid(f('price_per_hour'), `must be at most ${L.priceMax}`);
  }
  const description = spec.description?.trim();
  if (description !== undefined && description.length > L.descriptionMaxLength) {
    throw invalid(f('description'), `must be at most ${L.descriptionMaxLength} characters`);
  }
  // Shown to every lister: no escape sequences, no broken Unicode (lines and tabs are fine).
  if (description) requireSafeText(f('description'), description, true);
  let capabilities: string[] | undefined;
  if (spec.setCapabilities || spec.capabilities.length) {
    if (spec.capabilities.length > L.capabilitiesMax) throw invalid(f('capabilities'), `must have at most ${L.capabilitiesMax} items`);
    capabilities = [...new Set(spec.capabilities.map((c, i) => {
      const value = c.trim();
      if (!value || value.length > L.capabilityMaxLength) throw invalid(f(`capabilities[${i}]`), `must be 1-${L.capabilityMaxLength} characters`);
      requireSafeText(f(`capabilities[${i}]`), value);
      return value;
    }))];
  }
  return {
    uuid, model, memoryGb: memoryGbOf(spec.memoryGb), cudaCores: spec.cudaCores, computeCapability, cudaVersion, driverVersion, region,
    priceMicro: spec.pricePerHourMicro, description, capabilities,
  };
}

/**
 * GB from what was reported: under 1,024 it is GB; from 1,024 it is MiB (the AITBC CLI sends
 * nvidia-smi's `memory.total` as `memory_gb`), rounded to the nearest GiB, halves up: an H200's
 * 143771 MiB is 140 GB, an RTX 4090's 24564 MiB is 24.
 */
export function memoryGbOf(reported: number): number {
  return reported >= L.memoryMibFrom ? Math.max(1, Math.round(reported / 1024)) : reported;
}

function checkInt(value: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(field, `must be an integer from ${min} to ${max}`);
}

function optionalMatch(value: string | undefined, pattern: RegExp, field: string, hint: string): string | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return '';
  if (!pattern.test(text)) throw invalid(field, hint);
  return text;
}
