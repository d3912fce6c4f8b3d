import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger';
import { metrics } from './metrics';

export interface MetricsServer {
  /** host:port actually bound. */
  address: string;
  stop(): Promise<void>;
}

/**
 * Serves the process's metrics at GET /metrics for Prometheus (METRICS_PORT). Its own port,
 * apart from gRPC, so a scraper needs no key and reaches nothing else; everything other than
 * GET /metrics is 404.
 */
export async function startMetricsServer(host: string, port: number, logger: Logger): Promise<MetricsServer> {
  metrics.collectProcessMetrics();
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.render().then(
      (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (err: unknown) => {
        logger.warn({ err }, 'metrics could not be rendered');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  // A scrape is a short request; idle keep-alive sockets must not hold shutdown up.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    address: `${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
