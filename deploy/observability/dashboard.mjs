#!/usr/bin/env node
// Writes grafana-dashboard.json (stdout): `node deploy/observability/dashboard.mjs > deploy/observability/grafana-dashboard.json`.
// The panels are declared here once; .ci/observability.sh checks the JSON is what this prints
// and that every metric its queries use is one src/platform/metrics.ts registers.
const JOB = 'job="mcp-level3",namespace=~"$namespace",pod=~"$pod"';
const ENGINES = ['rag', 'dag', 'execution', 'governance', 'taxonomy', 'validation', 'promotion', 'registry'];

let nextId = 1;
let y = 0;
const panels = [];
const ds = { type: 'prometheus', uid: '${datasource}' };

function row(title) {
  panels.push({ type: 'row', id: nextId++, title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
  y += 1;
}
/** A row of time series panels, side by side. */
function series(...defs) {
  const w = Math.floor(24 / defs.length);
  defs.forEach((d, i) =>
    panels.push({
      type: 'timeseries',
      id: nextId++,
      title: d.title,
      description: d.description ?? '',
      datasource: ds,
      gridPos: { h: 8, w, x: i * w, y },
      fieldConfig: { defaults: { unit: d.unit ?? 'short', ...(d.max !== undefined ? { max: d.max } : {}), custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 10 } }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
      targets: d.targets.map(([expr, legendFormat], j) => ({ datasource: ds, expr, legendFormat, refId: String.fromCharCode(65 + j) })),
    }),
  );
  y += 8;
}
const p95 = (metric, by = '') => `histogram_quantile(0.95, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket{${JOB}}[$__rate_interval])))`;
// mcp_tool_calls_total's tool label is the operation name; its engine is the prefix before the first "_"
const tools = (engine) => `tool=~"${engine}_.*"`;

row('Overview');
series(
  { title: 'HTTP request rate by route', unit: 'reqps', targets: [[`sum by (route) (rate(http_requests_total{${JOB}}[$__rate_interval]))`, '{{route}}']] },
  { title: 'HTTP p95 latency', unit: 's', description: 'HighLatency fires above 0.1 s for 5 minutes', targets: [[p95('http_request_duration_seconds'), 'p95'], [p95('http_request_duration_seconds', 'route'), '{{route}}']] },
  { title: 'HTTP 5xx ratio', unit: 'percentunit', description: 'HighErrorRate fires above 5% for 5 minutes', targets: [[`sum(rate(http_requests_total{${JOB},status=~"5.."}[$__rate_interval])) / sum(rate(http_requests_total{${JOB}}[$__rate_interval]))`, '5xx']] },
);
series(
  { title: 'Tool calls by engine', unit: 'ops', targets: [[`sum by (engine) (label_replace(rate(mcp_tool_calls_total{${JOB}}[$__rate_interval]), "engine", "$1", "tool", "([a-z]+)_.*"))`, '{{engine}}']] },
  { title: 'Tool p95 by engine', unit: 's', targets: [[`histogram_quantile(0.95, sum by (le, engine) (label_replace(rate(mcp_tool_duration_seconds_bucket{${JOB}}[$__rate_interval]), "engine", "$1", "tool", "([a-z]+)_.*")))`, '{{engine}}']] },
  { title: 'Tool errors and denials by engine', unit: 'ops', targets: [[`sum by (engine, outcome) (label_replace(rate(mcp_tool_calls_total{${JOB},outcome!="ok"}[$__rate_interval]), "engine", "$1", "tool", "([a-z]+)_.*"))`, '{{engine}} {{outcome}}']] },
);

for (const engine of ENGINES) {
  row(`Engine: ${engine}`);
  const common = [
    { title: `${engine}: calls by tool and outcome`, unit: 'ops', targets: [[`sum by (tool, outcome) (rate(mcp_tool_calls_total{${JOB},${tools(engine)}}[$__rate_interval]))`, '{{tool}} {{outcome}}']] },
    { title: `${engine}: p95 by tool`, unit: 's', targets: [[`histogram_quantile(0.95, sum by (le, tool) (rate(mcp_tool_duration_seconds_bucket{${JOB},${tools(engine)}}[$__rate_interval])))`, '{{tool}}']] },
  ];
  const extra = {
    rag: [
      { title: 'rag: retrieval p95 by mode', unit: 's', targets: [[p95('rag_query_duration_seconds', 'mode'), '{{mode}}']] },
      { title: 'rag: chunks ingested', unit: 'short', targets: [[`sum(rate(rag_ingested_chunks_total{${JOB}}[$__rate_interval]))`, 'chunks/s']] },
    ],
    dag: [
      { title: 'dag: runs finished by status', unit: 'ops', targets: [[`sum by (status) (rate(dag_runs_total{${JOB}}[$__rate_interval]))`, '{{status}}']] },
      { title: 'dag: failed run ratio (15m)', unit: 'percentunit', description: 'DagRunFailureRate fires above 10% (with 5 runs or more) for 10 minutes', targets: [[`sum(rate(dag_runs_total{${JOB},status="failed"}[15m])) / sum(rate(dag_runs_total{${JOB}}[15m]))`, 'failed']] },
      { title: 'dag: node p95 by operation', unit: 's', targets: [[p95('dag_node_duration_seconds', 'operation'), '{{operation}}']] },
    ],
    execution: [
      { title: 'execution: queue depth and bound', unit: 'short', description: 'ExecutionQueueSaturated fires above 80% of execution_max_queued', targets: [[`sum by (pod) (execution_queue_depth{${JOB}})`, 'queued {{pod}}'], [`max(execution_max_queued{${JOB}})`, 'maxQueued']] },
      { title: 'execution: in flight and slots', unit: 'short', description: 'ExecutionSlotsExhausted fires when every slot is busy and tasks wait for 15 minutes', targets: [[`sum by (pod) (execution_inflight{${JOB}})`, 'in flight {{pod}}'], [`max(execution_max_concurrency{${JOB}})`, 'maxConcurrency']] },
    ],
    governance: [
      { title: 'governance: audit records appended', unit: 'ops', targets: [[`sum(rate(audit_records_total{${JOB}}[$__rate_interval]))`, 'records/s']] },
      { title: 'governance: audit chain verifications', unit: 'short', description: 'AuditChainBroken fires for 30 minutes after a broken one', targets: [[`sum by (result) (increase(audit_chain_verifications_total{${JOB}}[1h]))`, '{{result}} (1h)']] },
    ],
    promotion: [
      { title: 'promotion: requests closed by outcome', unit: 'ops', targets: [[`sum by (outcome) (rate(promotion_requests_total{${JOB}}[$__rate_interval]))`, '{{outcome}}']] },
    ],
  }[engine] ?? [];
  series(...common, ...extra.slice(0, 1));
  if (extra.length > 1) series(...extra.slice(1));
}

row('Cache, database pool, process');
series(
  { title: 'Cache hit ratio by key space', unit: 'percentunit', max: 1, targets: [[`sum by (keyspace) (rate(cache_hits_total{${JOB}}[$__rate_interval])) / (sum by (keyspace) (rate(cache_hits_total{${JOB}}[$__rate_interval])) + sum by (keyspace) (rate(cache_misses_total{${JOB}}[$__rate_interval])))`, '{{keyspace}}']] },
  { title: 'Cache look-ups by backend', unit: 'ops', targets: [[`sum by (backend) (rate(cache_hits_total{${JOB}}[$__rate_interval]))`, 'hits {{backend}}'], [`sum by (backend) (rate(cache_misses_total{${JOB}}[$__rate_interval]))`, 'misses {{backend}}']] },
  { title: 'Database pool (PostgreSQL)', unit: 'short', description: 'absent on the embedded PGlite', targets: [[`sum by (state) (db_pool_connections{${JOB}})`, '{{state}}'], [`sum(db_pool_pending_requests{${JOB}})`, 'waiting'], [`sum(db_pool_max_connections{${JOB}})`, 'max']] },
);
series(
  { title: 'CPU', unit: 'percentunit', targets: [[`sum by (pod) (rate(process_cpu_seconds_total{${JOB}}[$__rate_interval]))`, '{{pod}}']] },
  { title: 'Memory (RSS) and heap', unit: 'bytes', targets: [[`sum by (pod) (process_resident_memory_bytes{${JOB}})`, 'rss {{pod}}'], [`sum by (pod) (nodejs_heap_size_used_bytes{${JOB}})`, 'heap {{pod}}']] },
  { title: 'Event loop lag p99', unit: 's', targets: [[`max by (pod) (nodejs_eventloop_lag_p99_seconds{${JOB}})`, '{{pod}}']] },
);

const variable = (name, query) => ({
  name,
  label: name,
  type: 'query',
  datasource: ds,
  query: { query, refId: name },
  definition: query,
  includeAll: true,
  multi: true,
  allValue: '.*',
  current: { selected: true, text: ['All'], value: ['$__all'] },
  refresh: 2,
  sort: 1,
});

const dashboard = {
  title: 'mcp-level3',
  uid: 'mcp-level3',
  description: 'mcp-level3: HTTP, tools per engine, RAG, DAG, executor, audit, cache, database pool, process (deploy/observability/dashboard.mjs)',
  tags: ['mcp-level3'],
  editable: true,
  schemaVersion: 39,
  version: 1,
  time: { from: 'now-6h', to: 'now' },
  refresh: '30s',
  timezone: 'browser',
  templating: {
    list: [
      { name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, refresh: 1 },
      variable('namespace', 'label_values(http_requests_total{job="mcp-level3"}, namespace)'),
      variable('pod', 'label_values(process_start_time_seconds{job="mcp-level3",namespace=~"$namespace"}, pod)'),
    ],
  },
  annotations: { list: [] },
  panels,
};
process.stdout.write(`${JSON.stringify(dashboard, null, 2)}\n`);
