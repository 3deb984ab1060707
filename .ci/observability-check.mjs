// Checks deploy/observability/ against the code and the chart (run by .ci/helm.sh):
//   - grafana-dashboard.json parses and is what dashboard.mjs prints;
//   - every metric the dashboard's queries and the alert rules use is registered by
//     src/platform/metrics.ts (createMetrics() from dist/, default process metrics included),
//     kube-state-metrics' kube_* excepted in the rules; a doctored query naming a metric
//     that does not exist must be caught;
//   - prometheus-config.yaml's relabelling, applied to the pods the chart renders (Prometheus'
//     relabel semantics: source labels joined by ";", anchored regex), keeps the server's pods
//     at <pod IP>:8080 /metrics with job, namespace and pod labels, and drops PostgreSQL and Redis;
//   - the chart's files/alerting-rules.yaml is a link to deploy/observability/alerting-rules.yaml.
// Usage: node .ci/observability-check.mjs RENDERED_DEFAULT_MANIFEST
// Prints {"passed": N, "failed": M} on stdout; details on stderr.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

const [renderedPath] = process.argv.slice(2);
const OBS = 'deploy/observability';
let passed = 0;
let failed = 0;
const check = async (name, fn) => {
  try {
    await fn();
    passed++;
    console.error(`[observability] PASS ${name}`);
  } catch (error) {
    failed++;
    console.error(`[observability] FAIL ${name}: ${error.message}`);
  }
};
const expect = (ok, message) => {
  if (!ok) throw new Error(message);
};

// ---------------------------------------------------------------- metric names
const { createMetrics } = await import(pathToFileURL(resolve('dist/src/platform/metrics.js')).href);
const registered = new Map(); // exposed series name -> metric
for (const metric of await createMetrics().registry.getMetricsAsJSON()) {
  const names = metric.type === 'histogram' ? ['_bucket', '_sum', '_count'].map((s) => metric.name + s) : metric.type === 'summary' ? ['', '_sum', '_count'].map((s) => metric.name + s) : [metric.name];
  for (const name of names) registered.set(name, metric.name);
}
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);
/** Metric names a PromQL expression selects: identifiers followed by a selector or a range. */
const metricsIn = (expr) => [...expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)].map((m) => m[1]).filter((n) => !PROMQL_WORDS.has(n));
const unknownIn = (exprs, allow = () => false) => {
  const unknown = new Set();
  for (const expr of exprs) {
    const names = metricsIn(expr);
    if (names.length === 0) unknown.add(`(no metric in ${expr})`);
    for (const name of names) if (!registered.has(name) && !allow(name)) unknown.add(name);
  }
  return [...unknown];
};

const dashboardText = readFileSync(`${OBS}/grafana-dashboard.json`, 'utf8');
let dashboard;
await check('grafana-dashboard.json parses, and is what dashboard.mjs prints', () => {
  dashboard = JSON.parse(dashboardText);
  const generated = execFileSync(process.execPath, [`${OBS}/dashboard.mjs`], { encoding: 'utf8' });
  expect(generated === dashboardText, `regenerate: node ${OBS}/dashboard.mjs > ${OBS}/grafana-dashboard.json`);
});
const exprsOf = (d) => d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
await check('the dashboard has request rate, p95 latency, error ratio and a row per engine', () => {
  const titles = dashboard.panels.map((p) => p.title);
  for (const t of ['HTTP request rate by route', 'HTTP p95 latency', 'HTTP 5xx ratio']) expect(titles.includes(t), `no panel ${t}`);
  for (const e of ['rag', 'dag', 'execution', 'governance', 'taxonomy', 'validation', 'promotion', 'registry']) expect(titles.includes(`Engine: ${e}`), `no row for ${e}`);
  for (const p of dashboard.panels.filter((p) => p.type !== 'row')) expect(p.targets?.length > 0 && p.targets.every((t) => t.expr && t.refId), `panel ${p.title} has no query`);
});
await check(`every metric the dashboard queries is registered by src/platform/metrics.ts (${new Set(exprsOf(dashboard).flatMap(metricsIn)).size} names)`, () => {
  const unknown = unknownIn(exprsOf(dashboard));
  expect(unknown.length === 0, `not registered: ${unknown.join(', ')}`);
});
await check('a dashboard query naming a metric that does not exist is caught', () => {
  const doctored = JSON.parse(dashboardText);
  doctored.panels.find((p) => p.targets)?.targets.push({ expr: 'rate(http_request_total{job="mcp-level3"}[5m])', refId: 'Z' });
  expect(unknownIn(exprsOf(doctored)).join() === 'http_request_total', 'the misspelt http_request_total was not reported');
});

const rules = parse(readFileSync(`${OBS}/alerting-rules.yaml`, 'utf8')).groups.flatMap((g) => g.rules);
await check(`every metric the alert rules use is registered (kube-state-metrics' kube_* aside; ${rules.length} rules)`, () => {
  const unknown = unknownIn(rules.map((r) => r.expr), (name) => name.startsWith('kube_'));
  expect(unknown.length === 0, `not registered: ${unknown.join(', ')}`);
  const seed = ['HighLatency', 'HighErrorRate', 'DagRunFailureRate', 'ExecutionQueueSaturated', 'AuditChainBroken'];
  for (const alert of seed) expect(rules.some((r) => r.alert === alert), `no ${alert}`);
});
await check('every mcp-level3 selector in the rules names job="mcp-level3" (what the chart narrows to its namespace)', () => {
  for (const rule of rules) {
    for (const match of rule.expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)) {
      if (match[1].startsWith('kube_')) continue;
      expect(match[2].includes('job="mcp-level3"'), `${rule.alert}: ${match[0]}`);
    }
  }
});
await check('the chart reads the same rules file (files/alerting-rules.yaml links to it)', () => {
  expect(realpathSync('deploy/helm/mcp-level3/files/alerting-rules.yaml') === realpathSync(`${OBS}/alerting-rules.yaml`), 'not the same file');
});

// ---------------------------------------------------------------- scrape config
/** Prometheus relabelling: keep, drop, replace (the actions the config uses). */
function relabel(labels, configs) {
  const out = { ...labels };
  for (const c of configs) {
    const value = (c.source_labels ?? []).map((l) => out[l] ?? '').join(c.separator ?? ';');
    const regex = new RegExp(`^(?:${c.regex ?? '(.*)'})$`);
    const match = regex.exec(value);
    const action = c.action ?? 'replace';
    if (action === 'keep' && !match) return undefined;
    if (action === 'drop' && match) return undefined;
    if (action === 'replace' && match) {
      const result = (c.replacement ?? '$1').replace(/\$\{?(\d+)\}?/g, (_, i) => match[Number(i)] ?? '');
      if (result === '') delete out[c.target_label];
      else out[c.target_label] = result;
    }
  }
  return out;
}
/** The targets Kubernetes pod discovery makes from a pod: one per declared container port. */
function podTargets(podTemplate, namespace, name, ip) {
  const meta = {
    __meta_kubernetes_namespace: namespace,
    __meta_kubernetes_pod_name: name,
  };
  const sanitize = (k) => k.replace(/[^a-zA-Z0-9_]/g, '_');
  for (const [k, v] of Object.entries(podTemplate.metadata.labels ?? {})) meta[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
  for (const [k, v] of Object.entries(podTemplate.metadata.annotations ?? {})) meta[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
  const ports = podTemplate.spec.containers.flatMap((c) => c.ports ?? []);
  return (ports.length ? ports : [undefined]).map((p) => ({ ...meta, __address__: p ? `${ip}:${p.containerPort}` : ip, __metrics_path__: '/metrics', job: 'mcp-level3' }));
}
await check('prometheus-config.yaml, applied to the chart\'s pods, scrapes the server at <pod IP>:8080/metrics and only it', () => {
  const config = parse(readFileSync(`${OBS}/prometheus-config.yaml`, 'utf8'));
  const job = config.scrape_configs.find((j) => j.job_name === 'mcp-level3');
  expect(job, 'no job mcp-level3');
  const namespaces = job.kubernetes_sd_configs[0].namespaces.names;
  expect(namespaces.includes('mcp-level3') && job.kubernetes_sd_configs[0].role === 'pod', 'not pod discovery in mcp-level3');
  const workloads = parseAllDocuments(readFileSync(renderedPath, 'utf8')).map((d) => d.toJS()).filter((d) => d?.spec?.template);
  const kept = [];
  workloads.forEach((w, i) => {
    for (const target of podTargets(w.spec.template, 'mcp-level3', `${w.metadata.name}-0`, `10.0.0.${i + 1}`)) {
      const result = relabel(target, job.relabel_configs);
      if (result) kept.push({ workload: w.metadata.name, ...result });
    }
  });
  expect(kept.length === 1 && kept[0].workload === 'mcp-control-plane', `kept ${JSON.stringify(kept.map((k) => `${k.workload} ${k.__address__}`))}`);
  const [server] = kept;
  const index = workloads.findIndex((w) => w.metadata.name === 'mcp-control-plane') + 1;
  expect(server.__address__ === `10.0.0.${index}:8080`, `address ${server.__address__}`);
  expect(server.__metrics_path__ === '/metrics', `path ${server.__metrics_path__}`);
  expect(server.namespace === 'mcp-level3' && server.pod === 'mcp-control-plane-0' && server.job === 'mcp-level3', `labels ${JSON.stringify(server)}`);
});

console.log(JSON.stringify({ passed, failed }));
process.exit(failed > 0 ? 1 : 0);
