import assert from 'node:assert/strict';
import { GpuSpec } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { cleanMinerId, cleanSpec } from '../../services/registry/src/domain/gpuSpec';
import { modelKey } from '../../lib/modelCatalogue';
import { GpuStatus } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { gpuStatus } from '../../lib/gpuStatus';

const spec = (over: Partial<GpuSpec>) => GpuSpec.fromPartial({ model: 'RTX 4090', memoryGb: 24, ...over });

describe('GPU spec validation', () => {
  it('accepts a full spec and trims text', () => {
    const clean = cleanSpec(spec({ model: '  RTX 4090 ', cudaCores: 16384, computeCapability: '8.9', cudaVersion: '12.4', region: 'eu-west', pricePerHourMicro: 500_000, capabilities: ['fp16', 'fp16', 'cuda'] }));
    assert.equal(clean.model, 'RTX 4090');
    assert.deepEqual(clean.capabilities, ['fp16', 'cuda']);
    assert.equal(clean.priceMicro, 500_000);
  });

  it('names the bad field', () => {
    assert.throws(() => cleanSpec(spec({ model: ' ' })), /^DomainError: model: is required/);
    assert.throws(() => cleanSpec(spec({ memoryGb: undefined })), /memory_gb: is required/);
    assert.throws(() => cleanSpec(spec({ memoryGb: 0 })), /memory_gb: must be an integer from 1 to 4194304/);
    assert.throws(() => cleanSpec(spec({ memoryGb: 4096 * 1024 + 1 })), /memory_gb/);
    assert.throws(() => cleanSpec(spec({ pricePerHourMicro: 0 })), /price_per_hour: must be greater than 0/);
    assert.throws(() => cleanSpec(spec({ pricePerHourMicro: -5 })), /price_per_hour/);
    assert.throws(() => cleanSpec(spec({ computeCapability: 'eight' })), /compute_capability/);
    assert.throws(() => cleanSpec(spec({ uuid: 'bad uuid with spaces' })), /uuid/);
    assert.throws(() => cleanSpec(spec({ model: 'a\u0000b' })), /model/);
    assert.throws(() => cleanSpec(spec({ capabilities: ['ok', ''] })), /capabilities\[1\]/);
    assert.throws(() => cleanSpec(spec({ memoryGb: 0 }), 'gpus[3].'), /gpus\[3\]\.memory_gb/);
  });

  it("reads memory of 1,024 or more as nvidia-smi's MiB, rounded to the nearest GB", () => {
    assert.equal(cleanSpec(spec({ memoryGb: 143771 })).memoryGb, 140);
    assert.equal(cleanSpec(spec({ memoryGb: 24564 })).memoryGb, 24);
    assert.equal(cleanSpec(spec({ memoryGb: 81559 })).memoryGb, 80);
    assert.equal(cleanSpec(spec({ memoryGb: 1023 })).memoryGb, 1023);
    assert.equal(cleanSpec(spec({ memoryGb: 1024 })).memoryGb, 1);
    assert.equal(cleanSpec(spec({ memoryGb: 1536 })).memoryGb, 2);
  });

  it('validates miner ids', () => {
    assert.equal(cleanMinerId(' rig-1 '), 'rig-1');
    assert.throws(() => cleanMinerId('../etc'), /miner_id/);
    assert.throws(() => cleanMinerId('x'.repeat(65)), /miner_id/);
  });

  it('normalises model names for matching', () => {
    assert.equal(modelKey('NVIDIA GeForce RTX 4090'), 'nvidiageforcertx4090');
    assert.equal(modelKey('A100-SXM4-80GB'), 'a100sxm480gb');
  });
});

describe('GPU status', () => {
  const now = new Date('2026-01-01T12:00:00Z');
  it('offline wins, then booked while a booking covers now, else available', () => {
    const at = (iso: string) => new Date(`2026-01-01T${iso}:00Z`);
    assert.equal(gpuStatus({ online: false, booking_starts: at('11:00'), booking_expires: at('13:00') }, now), GpuStatus.GPU_STATUS_OFFLINE);
    assert.equal(gpuStatus({ online: true, booking_starts: at('11:00'), booking_expires: at('13:00') }, now), GpuStatus.GPU_STATUS_BOOKED);
    assert.equal(gpuStatus({ online: true, booking_starts: at('10:00'), booking_expires: at('11:00') }, now), GpuStatus.GPU_STATUS_AVAILABLE);
    assert.equal(gpuStatus({ online: true, booking_starts: null, booking_expires: null }, now), GpuStatus.GPU_STATUS_AVAILABLE);
    // An advance reservation does not make the GPU booked before it starts.
    assert.equal(gpuStatus({ online: true, booking_starts: at('14:00'), booking_expires: at('15:00') }, now), GpuStatus.GPU_STATUS_AVAILABLE);
  });
});
