/**
 * Bounds on what an owner may state about a GPU. The registry enforces them (it is the
 * authority, whoever calls it); the gateway's JSON schemas reuse them so REST callers get
 * the same limits in the OpenAPI document and a 400 before any RPC.
 */
export const GPU_LIMITS = {
  modelMaxLength: 100,
  memoryGbMin: 1,
  memoryGbMax: 4096,
  /** A reported memory of this much or more is MiB, as `nvidia-smi --format=csv,nounits` prints it (no GPU has 1 TB). */
  memoryMibFrom: 1024,
  /** The most memory a GPU may report: 4096 GB in MiB. */
  memoryReportedMax: 4096 * 1024,
  cudaCoresMax: 1_000_000,
  /** AITBC per hour. */
  priceMax: 1_000_000,
  descriptionMaxLength: 2000,
  capabilitiesMax: 32,
  capabilityMaxLength: 64,
  uuidPattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$',
  minerIdPattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  regionPattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
  computeCapabilityPattern: '^\\d{1,2}\\.\\d{1,2}$',
  cudaVersionPattern: '^\\d{1,2}\\.\\d{1,2}(\\.\\d{1,3})?$',
  /** nvidia-smi's driver_version: "550.54.15". */
  driverVersionPattern: '^\\d{1,4}(\\.\\d{1,4}){0,3}$',
  /** The most GPUs one miner may report at once. */
  gpusPerMinerMax: 64,
  listLimitMax: 500,
  listLimitDefault: 20,
} as const;

const MINER_ID = new RegExp(GPU_LIMITS.minerIdPattern);
/** A miner id: the rig's name inside its owner's account (the registry, accounts and the gateway agree on it). */
export const isMinerId = (text: string): boolean => MINER_ID.test(text);
