import assert from 'node:assert/strict';
import { createLogger } from '../../lib/logger';

describe('createLogger', () => {
  it("writes each line's own fields only (none carried over from earlier lines, or from other loggers)", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = { write: (line: string) => void lines.push(JSON.parse(line)) };
    const a = createLogger('alpha', 'info', sink);
    const b = createLogger('beta', 'info', sink);
    a.info({ method: 'RegisterGpu', detail: 'cuda_version: must look like 12.4' }, 'rpc refused');
    b.info({ count: 3 }, 'GPUs went offline');
    a.info('plain');
    assert.equal(lines[1].method, undefined);
    assert.equal(lines[1].detail, undefined);
    assert.equal(lines[2].count, undefined);
    assert.equal(lines[2].method, undefined);
    assert.equal(lines[1].service, 'beta');
  });
});
