import assert from 'node:assert/strict';
import { readHeartbeat } from '../../services/registry/src/domain/telemetry';

describe('heartbeat telemetry (pure)', () => {
  const known = new Map([['GPU-a', 'gpu_a'], ['GPU-b', 'gpu_b']]);
  const t = (uuid: string, utilization: number, extra: Partial<{ memoryUsedGb: number; temperatureC: number; powerW: number }> = {}) =>
    ({ uuid, utilization, memoryUsedGb: 1, temperatureC: 50, powerW: 100, healthy: true, ...extra });

  it('keeps known GPUs once each (the last entry wins), rounds to a tenth, and leaves out what was not reported', () => {
    const r = readHeartbeat([t('GPU-a', 10), t('GPU-a', 87.26), t('GPU-b', Number.NaN, { powerW: Number.NaN }), t('GPU-x', 5)], known);
    assert.deepEqual(r.alive, ['gpu_a', 'gpu_b']);
    assert.deepEqual(r.readings[0], { utilization: 87.3, temperature_c: 50, memory_used_gb: 1, power_w: 100 });
    assert.deepEqual(r.readings[1], { utilization: null, temperature_c: 50, memory_used_gb: 1, power_w: null }, '"[N/A]" is absent, not 0');
    assert.deepEqual(r.rejected.map((e) => e.field), ['gpus[3].uuid']);
  });

  it('refuses out-of-range values field by field, and turns a subnormal into 0', () => {
    const r = readHeartbeat([t('GPU-a', 101, { temperatureC: Infinity }), t('GPU-b', 5e-324)], known);
    assert.deepEqual(r.rejected.map((e) => e.field), ['gpus[0].utilization', 'gpus[0].temperature_c']);
    assert.deepEqual(r.readings[0], { utilization: null, temperature_c: null, memory_used_gb: 1, power_w: 100 });
    assert.equal(r.readings[1]!.utilization, 0);
  });

  it('reads at most a rig of entries', () => {
    const r = readHeartbeat(Array.from({ length: 10_000 }, () => t('GPU-a', 1)), known);
    assert.deepEqual(r.alive, ['gpu_a']);
    assert.equal(r.rejected.length, 1);
  });
});
