/**
 * The model catalogue: one canonical key per GPU model, whatever name a person types or
 * `nvidia-smi` reports ("NVIDIA GeForce RTX 4090", "RTX 4090", "rtx4090", "4090" → `rtx-4090`;
 * "NVIDIA A100-SXM4-80GB", "a100 80gb" → `a100-80gb`). The registry uses it to match model
 * filters, the pricing service to group GPUs into markets.
 *
 * How a name is read: lower-cased and cut into tokens at anything that is not a letter or
 * digit; vendor, brand and packaging words that do not change the chip or its memory are
 * dropped (NVIDIA, GeForce, Tesla, PCIe, SXM4, HBM3, …); a memory size is one token ("80 GB"
 * → "80gb"); the remaining tokens are joined and looked up among each model's aliases.
 * A name the catalogue does not know keeps a key of its own: its tokens joined by "-", with
 * letters and digits split apart, so "FooGPU 9000" and "foogpu9000" still agree.
 */

export interface CatalogueModel {
  key: string;
  /** The name shown to people. */
  name: string;
  memoryGb: number;
  /** Compact spellings (tokens joined, after dropping noise words) that mean this model. */
  aliases: string[];
}

/** Words that name the vendor, brand line or packaging, never the chip or its memory. */
const NOISE = new Set([
  'nvidia', 'geforce', 'tesla', 'amd', 'radeon', 'instinct', 'graphics', 'gpu', 'card', 'generation', 'gen',
  'pcie', 'pci', 'e', 'sxm', 'sxm2', 'sxm3', 'sxm4', 'sxm5', 'hbm', 'hbm2', 'hbm2e', 'hbm3', 'hbm3e', 'oam',
]);

const m = (key: string, name: string, memoryGb: number, ...aliases: string[]): CatalogueModel => ({
  key, name, memoryGb, aliases: [...new Set([key.replace(/-/g, ''), ...aliases])],
});

/** The models the marketplace knows by name. Add a line to teach it another. */
export const CATALOGUE: readonly CatalogueModel[] = [
  // GeForce: the bare number is how people say them ("a 4090").
  m('rtx-5090', 'GeForce RTX 5090', 32, '5090'),
  m('rtx-5080', 'GeForce RTX 5080', 16, '5080'),
  m('rtx-4090', 'GeForce RTX 4090', 24, '4090', 'rtx409024gb', '409024gb'),
  m('rtx-4080-super', 'GeForce RTX 4080 SUPER', 16, '4080super'),
  m('rtx-4080', 'GeForce RTX 4080', 16, '4080'),
  m('rtx-4070-ti', 'GeForce RTX 4070 Ti', 12, '4070ti'),
  m('rtx-4070', 'GeForce RTX 4070', 12, '4070'),
  m('rtx-4060-ti', 'GeForce RTX 4060 Ti', 16, '4060ti'),
  m('rtx-3090-ti', 'GeForce RTX 3090 Ti', 24, '3090ti'),
  m('rtx-3090', 'GeForce RTX 3090', 24, '3090'),
  m('rtx-3080-ti', 'GeForce RTX 3080 Ti', 12, '3080ti'),
  m('rtx-3080', 'GeForce RTX 3080', 10, '3080'),
  m('rtx-3070', 'GeForce RTX 3070', 8, '3070'),
  m('rtx-3060', 'GeForce RTX 3060', 12, '3060'),
  m('rtx-2080-ti', 'GeForce RTX 2080 Ti', 11, '2080ti'),
  m('gtx-1080-ti', 'GeForce GTX 1080 Ti', 11, '1080ti'),
  // Workstation.
  m('rtx-6000-ada', 'RTX 6000 Ada Generation', 48, '6000ada'),
  m('rtx-a6000', 'RTX A6000', 48, 'a6000'),
  m('rtx-a5000', 'RTX A5000', 24, 'a5000'),
  m('rtx-a4000', 'RTX A4000', 16, 'a4000'),
  // Data centre. Where one chip ships with two memory sizes, the size is part of the key.
  m('a100-80gb', 'A100 80GB', 80, 'a10080gb', 'a10080'),
  m('a100-40gb', 'A100 40GB', 40, 'a10040gb', 'a10040'),
  m('h100-80gb', 'H100 80GB', 80, 'h100', 'h10080gb', 'h10080'),
  m('h100-nvl', 'H100 NVL', 94, 'h100nvl', 'h100nvl94gb'),
  m('h200', 'H200', 141, 'h200141gb'),
  m('gh200', 'GH200', 96, 'gh200480gb', 'gh20096gb', 'gh200gracehopper'),
  m('l40s', 'L40S', 48),
  m('l40', 'L40', 48),
  m('l4', 'L4', 24),
  m('a40', 'A40', 48),
  m('a10g', 'A10G', 24),
  m('a10', 'A10', 24),
  m('t4', 'T4', 16, 't416gb'),
  m('v100-32gb', 'V100 32GB', 32, 'v10032gb', 'v10032'),
  m('v100-16gb', 'V100 16GB', 16, 'v10016gb', 'v10016'),
  m('mi300x', 'Instinct MI300X', 192, 'mi300x192gb'),
  m('mi250x', 'Instinct MI250X', 128),
];

const BY_ALIAS = new Map<string, CatalogueModel>();
for (const model of CATALOGUE) {
  for (const alias of model.aliases) {
    if (BY_ALIAS.has(alias)) throw new Error(`model catalogue: alias ${alias} is claimed twice`);
    BY_ALIAS.set(alias, model);
  }
}
const BY_KEY = new Map(CATALOGUE.map((model) => [model.key, model]));

/** A name's tokens with memory sizes joined ("80", "gb" → "80gb") and noise words dropped. */
function tokens(name: string): string[] {
  const raw = name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const token = raw[i];
    if (/^\d+$/.test(token) && (raw[i + 1] === 'gb' || raw[i + 1] === 'g')) {
      out.push(`${token}gb`);
      i++;
    } else if (/^\d+g$/.test(token)) {
      out.push(`${token}b`);
    } else if (!NOISE.has(token)) {
      out.push(token);
    }
  }
  return out;
}

export interface ModelIdentity {
  /** The canonical key (`rtx-4090`), or a key derived from the name for an unknown model. */
  key: string;
  /** The catalogue's name, or the name as given for an unknown model. */
  name: string;
  /** True when the catalogue knows the model. */
  known: boolean;
}

/**
 * The canonical identity of a model name. Unknown names get a stable key of their own
 * (`"FooGPU 9000"` → `foogpu-9000`); a name with no letters or digits has the key "".
 */
export function identifyModel(name: string): ModelIdentity {
  const parts = tokens(name);
  const known = BY_ALIAS.get(parts.join('')) ?? BY_KEY.get(name.trim().toLowerCase());
  if (known) return { key: known.key, name: known.name, known: true };
  const all = name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  // Split letters from digits ("foogpu9000" → foogpu, 9000) so spacing does not matter.
  const key = all.flatMap((t) => t.match(/[a-z]+|\d+/g) ?? []).join('-');
  return { key, name: name.trim(), known: false };
}

/** The canonical key of a model name (see identifyModel). */
export const modelKeyOf = (name: string): string => identifyModel(name).key;

/** A model name reduced to lower-case alphanumerics, so "RTX 4090" and "rtx4090" match alike. */
export function modelKey(model: string): string {
  return model.toLowerCase().replace(/[^a-z0-9]+/g, '');
}
