/**
 * Prometheus metrics of the gateway, kept in memory: requests by route template, method and
 * status, and a latency histogram per route template. Rendered in the text exposition format.
 */
const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

export interface Metrics {
  observe(route: string, method: string, status: number, ms: number): void;
  render(): string;
}

const label = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export function createMetrics(): Metrics {
  const requests = new Map<string, number>();
  const latency = new Map<string, { buckets: number[]; sum: number; count: number }>();
  const started = Date.now();
  return {
    observe(route, method, status, ms) {
      const key = `route="${label(route)}",method="${method}",status="${status}"`;
      requests.set(key, (requests.get(key) ?? 0) + 1);
      const lkey = `route="${label(route)}",method="${method}"`;
      let h = latency.get(lkey);
      if (!h) latency.set(lkey, (h = { buckets: BUCKETS_MS.map(() => 0), sum: 0, count: 0 }));
      BUCKETS_MS.forEach((b, i) => {
        if (ms <= b) h!.buckets[i]++;
      });
      h.sum += ms / 1000;
      h.count++;
    },
    render() {
      const lines = [
        '# HELP aitbc_gateway_requests_total HTTP requests answered, by route template, method and status.',
        '# TYPE aitbc_gateway_requests_total counter',
        ...[...requests].map(([k, v]) => `aitbc_gateway_requests_total{${k}} ${v}`),
        '# HELP aitbc_gateway_request_duration_seconds Time to answer, by route template and method.',
        '# TYPE aitbc_gateway_request_duration_seconds histogram',
      ];
      for (const [k, h] of latency) {
        BUCKETS_MS.forEach((b, i) => lines.push(`aitbc_gateway_request_duration_seconds_bucket{${k},le="${b / 1000}"} ${h.buckets[i]}`));
        lines.push(`aitbc_gateway_request_duration_seconds_bucket{${k},le="+Inf"} ${h.count}`);
        lines.push(`aitbc_gateway_request_duration_seconds_sum{${k}} ${h.sum}`);
        lines.push(`aitbc_gateway_request_duration_seconds_count{${k}} ${h.count}`);
      }
      const memory = process.memoryUsage();
      lines.push(
        '# HELP aitbc_gateway_uptime_seconds Seconds since the gateway started.',
        '# TYPE aitbc_gateway_uptime_seconds gauge',
        `aitbc_gateway_uptime_seconds ${(Date.now() - started) / 1000}`,
        '# HELP aitbc_gateway_resident_memory_bytes Resident set size of the gateway process.',
        '# TYPE aitbc_gateway_resident_memory_bytes gauge',
        `aitbc_gateway_resident_memory_bytes ${memory.rss}`,
      );
      return `${lines.join('\n')}\n`;
    },
  };
}
