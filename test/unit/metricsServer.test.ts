import assert from 'node:assert/strict';
import { createLogger } from '../../lib/logger';
import { metrics } from '../../lib/metrics';
import { type MetricsServer, startMetricsServer } from '../../lib/metricsServer';

/** METRICS_PORT: no key, so it must answer GET /metrics and nothing else. */
describe('the metrics port', () => {
  let server: MetricsServer;
  before(async () => {
    server = await startMetricsServer('127.0.0.1', 0, createLogger('test', 'silent'));
  });
  after(() => server.stop());

  it('serves the Prometheus text at GET /metrics, with the series the services count', async () => {
    metrics.grpcServer('booking', '/aitbc.marketplace.v1.BookingService/CreateBooking', 'OK', 0.004);
    metrics.heartbeats('registry', 3);
    const res = await fetch(`http://${server.address}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /aitbc_grpc_server_handled_total\{service="booking",method="\/aitbc.marketplace.v1.BookingService\/CreateBooking",code="OK"\} \d+/);
    assert.match(text, /aitbc_heartbeats_total\{service="registry"\} \d+/);
    assert.match(text, /process_cpu_seconds_total/);
  });

  it('answers nothing else: other paths, other methods, path tricks are 404 and say nothing', async () => {
    for (const [method, path] of [['GET', '/'], ['GET', '/metrics/../etc/passwd'], ['POST', '/metrics'], ['DELETE', '/metrics'], ['GET', '/metrics%00'], ['GET', '/METRICS']]) {
      const res = await fetch(`http://${server.address}${path}`, { method });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.doesNotMatch(await res.text(), /aitbc_/);
    }
    // A query string is not another resource.
    assert.equal((await fetch(`http://${server.address}/metrics?x=${'%01'.repeat(100)}`)).status, 200);
  });
});
