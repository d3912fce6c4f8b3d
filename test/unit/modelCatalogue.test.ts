import assert from 'node:assert/strict';
import { CATALOGUE, identifyModel, modelKeyOf } from '../../lib/modelCatalogue';

/** Names people type and names nvidia-smi / rocm-smi report, with the key each must get. */
const NAMES: [string, string][] = [
  // The issue's own examples.
  ['NVIDIA GeForce RTX 4090', 'rtx-4090'],
  ['RTX 4090', 'rtx-4090'],
  ['rtx4090', 'rtx-4090'],
  ['4090', 'rtx-4090'],
  ['A100-SXM4-80GB', 'a100-80gb'],
  ['a100 80gb', 'a100-80gb'],
  // nvidia-smi --query-gpu=name output.
  ['NVIDIA A100-SXM4-80GB', 'a100-80gb'],
  ['NVIDIA A100 80GB PCIe', 'a100-80gb'],
  ['NVIDIA A100-PCIE-40GB', 'a100-40gb'],
  ['NVIDIA A100-SXM4-40GB', 'a100-40gb'],
  ['NVIDIA H100 80GB HBM3', 'h100-80gb'],
  ['NVIDIA H100 PCIe', 'h100-80gb'],
  ['NVIDIA H100 NVL', 'h100-nvl'],
  ['NVIDIA H200', 'h200'],
  ['NVIDIA GH200 480GB', 'gh200'],
  ['Tesla V100-SXM2-16GB', 'v100-16gb'],
  ['Tesla V100-SXM2-32GB', 'v100-32gb'],
  ['Tesla V100-PCIE-16GB', 'v100-16gb'],
  ['Tesla T4', 't4'],
  ['NVIDIA L4', 'l4'],
  ['NVIDIA L40S', 'l40s'],
  ['NVIDIA L40', 'l40'],
  ['NVIDIA A10G', 'a10g'],
  ['NVIDIA A10', 'a10'],
  ['NVIDIA A40', 'a40'],
  ['NVIDIA RTX A6000', 'rtx-a6000'],
  ['NVIDIA RTX A5000', 'rtx-a5000'],
  ['NVIDIA RTX 6000 Ada Generation', 'rtx-6000-ada'],
  ['NVIDIA GeForce RTX 3090', 'rtx-3090'],
  ['NVIDIA GeForce RTX 3090 Ti', 'rtx-3090-ti'],
  ['NVIDIA GeForce RTX 4080 SUPER', 'rtx-4080-super'],
  ['NVIDIA GeForce RTX 4070 Ti', 'rtx-4070-ti'],
  ['NVIDIA GeForce RTX 3060', 'rtx-3060'],
  ['NVIDIA GeForce GTX 1080 Ti', 'gtx-1080-ti'],
  ['AMD Instinct MI300X', 'mi300x'],
  // How people type them.
  ['geforce rtx 4090', 'rtx-4090'],
  ['RTX-4090', 'rtx-4090'],
  ['rtx 4090 24gb', 'rtx-4090'],
  ['rtx-4090', 'rtx-4090'],
  ['3090', 'rtx-3090'],
  ['4080', 'rtx-4080'],
  ['A100 80G', 'a100-80gb'],
  ['a100-80gb', 'a100-80gb'],
  ['h100', 'h100-80gb'],
  ['  RTX   A6000 ', 'rtx-a6000'],
  ['l40s', 'l40s'],
];

describe('model catalogue', () => {
  it(`maps ${NAMES.length} real names to their canonical key`, () => {
    assert.ok(NAMES.length >= 30);
    const wrong = NAMES.filter(([name, key]) => modelKeyOf(name) !== key).map(([name, key]) => `${name} → ${modelKeyOf(name)} (want ${key})`);
    assert.deepEqual(wrong, []);
  });

  it('keeps models apart that differ in one token (4080 vs 4080 SUPER, A10 vs A100, 3090 vs 3090 Ti)', () => {
    const keys = ['RTX 4080', 'RTX 4080 SUPER', 'A10', 'A100 40GB', 'A100 80GB', 'RTX 3090', 'RTX 3090 Ti', 'RTX 4090 Laptop GPU'].map(modelKeyOf);
    assert.equal(new Set(keys).size, keys.length);
  });

  it('gives an unknown model a stable key of its own, whatever the spacing and case', () => {
    assert.deepEqual(identifyModel('FooGPU 9000'), { key: 'foogpu-9000', name: 'FooGPU 9000', known: false });
    assert.equal(modelKeyOf('foogpu9000'), 'foogpu-9000');
    assert.equal(modelKeyOf('FOO-GPU 9000'), 'foo-gpu-9000');
    assert.equal(modelKeyOf('RTX 4090 Laptop GPU'), 'rtx-4090-laptop-gpu');
  });

  it('has no key for a name without letters or digits', () => {
    for (const name of ['', '   ', '../', '%', '-_-']) assert.equal(modelKeyOf(name), '', name);
  });

  it('names every model and maps each key to itself', () => {
    for (const model of CATALOGUE) {
      assert.equal(modelKeyOf(model.key), model.key);
      assert.equal(modelKeyOf(model.name), model.key, model.name);
      assert.ok(model.memoryGb > 0);
    }
  });
});
