/*
 * Metrics
 * =======
 * One prom-client registry per server instance (tests run several in one process), with
 * the default process metrics and the HTTP and tool figures the seed's alert rules use.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Metrics {
  registry: Registry;
  httpRequestDuration: Histogram<'method' | 'route' | 'status'>;
  httpRequestsTotal: Counter<'method' | 'route' | 'status'>;
  toolCallsTotal: Counter<'tool' | 'outcome'>;
  toolDuration: Histogram<'tool'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration in seconds, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    httpRequestsTotal: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests served, by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    toolCallsTotal: new Counter({
      name: 'mcp_tool_calls_total',
      help: 'Operation calls, by tool and outcome (ok, error, denied)',
      labelNames: ['tool', 'outcome'],
      registers: [registry],
    }),
    toolDuration: new Histogram({
      name: 'mcp_tool_duration_seconds',
      help: 'Operation duration in seconds, by tool',
      labelNames: ['tool'],
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
  };
}
