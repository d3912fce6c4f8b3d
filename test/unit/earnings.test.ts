import assert from 'node:assert/strict';
import { BOOKINGS_SHOWN, summarizeEarnings } from '../../services/accounts/src/domain/earnings';
import { NoGpusError, readGpus, readTelemetry } from '../../bin/nvidiaSmi';

describe('miner earnings (pure)', () => {
  const at = (iso: string) => new Date(iso);
  it('sums gross = net + fee per GPU, per UTC day and per booking, counting each booking once', () => {
    const out = summarizeEarnings([
      { booking_id: 'b1', gpu_id: 'g1', day: '2026-12-01', net_micro: 900, fee_micro: 100, earned_at: at('2026-12-01T10:00:00Z') },
      // b1 paid again the next day (a payment): one booking, two days.
      { booking_id: 'b1', gpu_id: 'g1', day: '2026-12-02', net_micro: 50, fee_micro: 0, earned_at: at('2026-12-02T09:00:00Z') },
      { booking_id: 'b2', gpu_id: 'g2', day: '2026-12-02', net_micro: 1800, fee_micro: 200, earned_at: at('2026-12-02T08:00:00Z') },
    ]);
    assert.deepEqual(out.total, { grossMicro: 3050, feeMicro: 300, netMicro: 2750, bookings: 2 });
    assert.deepEqual(out.gpus.map((g) => [g.gpuId, g.earnings!.grossMicro, g.earnings!.bookings]), [['g1', 1050, 1], ['g2', 2000, 1]]);
    assert.deepEqual(out.days.map((d) => [d.day, d.earnings!.netMicro, d.earnings!.bookings]), [['2026-12-01', 900, 1], ['2026-12-02', 1850, 2]]);
    assert.deepEqual(out.bookings.map((b) => [b.bookingId, b.earnings!.grossMicro]), [['b1', 1050], ['b2', 2000]], 'newest first');
    assert.equal(out.bookingsTruncated, false);
    const none = summarizeEarnings([]);
    assert.deepEqual([none.total, none.gpus, none.days, none.bookings], [{ grossMicro: 0, feeMicro: 0, netMicro: 0, bookings: 0 }, [], [], []]);
  });

  it('lists at most BOOKINGS_SHOWN bookings and says so, while the totals count them all', () => {
    const lines = Array.from({ length: BOOKINGS_SHOWN + 1 }, (_, i) => ({
      booking_id: `b${i}`, gpu_id: 'g', day: '2026-12-01', net_micro: 1, fee_micro: 0, earned_at: at('2026-12-01T00:00:00Z'),
    }));
    const out = summarizeEarnings(lines);
    assert.equal(out.bookings.length, BOOKINGS_SHOWN);
    assert.equal(out.bookingsTruncated, true);
    assert.equal(out.total!.bookings, BOOKINGS_SHOWN + 1);
  });
});

describe('reading nvidia-smi (pure)', () => {
  it('reads every GPU with its MiB memory, versions and "[N/A]" as empty, and telemetry per GPU', () => {
    const run = (args: string[]) => (args.length === 0 ? 'Driver Version: 550.54.15   CUDA Version: 12.4'
      : args[0].includes('utilization') ? 'GPU-a, 87, 71680, 61, [N/A]\nGPU-b, 0, 0, 35, 70.1\n'
        : 'GPU-a, NVIDIA H200, 143771, 9.0, 550.54.15\nGPU-b, Tesla T4, 512, [N/A], 550.54.15\n');
    const gpus = readGpus(run);
    assert.deepEqual(gpus.map((g) => [g.uuid, g.model, g.memoryGb, g.computeCapability, g.driverVersion, g.cudaVersion]),
      [['GPU-a', 'NVIDIA H200', 143771, '9.0', '550.54.15', '12.4'], ['GPU-b', 'Tesla T4', 1024, '', '550.54.15', '12.4']]);
    assert.deepEqual(readTelemetry(run).map((t) => [t.uuid, t.utilization, t.memoryUsedGb, t.temperatureC, t.powerW]),
      [['GPU-a', 87, 70, 61, Number.NaN], ['GPU-b', 0, 0, 35, 70.1]], '"[N/A]" is not reported (NaN), never a made-up 0');
  });

  it('says whether nvidia-smi is missing, failing or lists nothing', () => {
    const missing = () => { throw Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' }); };
    assert.throws(() => readGpus(missing), (e: Error) => e instanceof NoGpusError && /not found on PATH/.test(e.message));
    const failing = () => { throw Object.assign(new Error('exit 9'), { status: 9, stderr: 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver' }); };
    assert.throws(() => readGpus(failing), /nvidia-smi failed: NVIDIA-SMI has failed/);
    assert.throws(() => readGpus(() => '\n'), /lists no GPUs/);
    assert.deepEqual(readTelemetry(missing), []);
  });
});
