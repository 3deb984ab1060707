// Checks deploy/observability/ against the code and the chart (run by .ci/helm.sh):
//   - grafana-dashboard.json parses and is what dashboard.mjs prints;
//   - every metric the dashboard's queries and the alert rules use is registered by
//     src/platform/metrics.ts (createMetrics() from dist/, default process metrics included),
//     kube-state-metrics' kube_* excepted in the rules; a doctored query naming a metric
//     that does not exist must be caught;
//   - prometheus-config.yaml's relabelling, applied to the pods the chart renders (Prometheus'
//     relabel semantics: source labels joined by ";", anchored regex), keeps the server's pods
//     at <pod IP>:8080 /metrics with job, namespace and pod labels, and drops PostgreSQL and Redis;
//   - the chart's files/alerting-rules.yaml is a link to deploy/observability/alerting-rules.yaml;
//   - docs/deployment.md and deployment.zh-TW.md: the same code blocks in the same order, the
//     same headings (levels, in order) and, section by section, the same paragraphs, list
//     items and table rows (.ci/doc-structure.mjs; a paragraph missing from the translation fails);
//     every repository path they name exists, every `npm run` script is in package.json,
//     every option given to mcp-level3 / cli.js is one src/cli.ts's usage lists;
//   - live: the built server (memory://) scraped by a real Prometheus (Debian's `prometheus`)
//     with prometheus-static.yaml (target and intervals changed only): the target is up with
//     job="mcp-level3", every rule loads healthy, every dashboard query is accepted and the
//     panels' main series have data.
// Usage: node .ci/observability-check.mjs RENDERED_DEFAULT_MANIFEST
// Prints {"passed": N, "failed": M} on stdout; details on stderr.
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { structureDiff, structureOf } from './doc-structure.mjs';

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

// ---------------------------------------------------------------- docs
const DOCS = ['docs/deployment.md', 'docs/deployment.zh-TW.md'];
const texts = Object.fromEntries(DOCS.map((d) => [d, readFileSync(d, 'utf8')]));
const fenced = (text) => text.match(/```[a-z]*\n[\s\S]*?```/g) ?? [];
await check('deployment.zh-TW.md has the code blocks of deployment.md, identical and in order', () => {
  const [en, zh] = DOCS.map((d) => fenced(texts[d]));
  expect(en.length > 10, `${en.length} code blocks`);
  const differ = en.findIndex((block, i) => block !== zh[i]);
  expect(en.length === zh.length && differ === -1, `block ${differ}: ${JSON.stringify((zh[differ] ?? '(missing)').slice(0, 120))} vs ${JSON.stringify((en[differ] ?? '').slice(0, 120))}`);
});
await check('deployment.zh-TW.md has the sections of deployment.md: same headings in order, same paragraphs, list items and table rows per section', () => {
  const [en, zh] = DOCS.map((d) => texts[d]);
  expect(structureOf(en).length > 20, `${structureOf(en).length - 1} headings`);
  const problems = structureDiff(en, zh);
  expect(problems.length === 0, problems.join('; '));
  // the check itself: any one prose paragraph dropped from the English must be caught
  const parts = en.split('\n\n');
  const prose = parts.map((part, i) => i).filter((i) => /^[A-Za-z`]/.test(parts[i]) && parts.slice(0, i).join('\n\n').split('```').length % 2 === 1);
  expect(prose.length > 20, `${prose.length} paragraphs`);
  const missed = prose.filter((i) => structureDiff(en, parts.filter((_, j) => j !== i).join('\n\n')).length === 0);
  expect(missed.length === 0, `dropping paragraph ${missed[0]} (${JSON.stringify(parts[missed[0]]?.slice(0, 60))}) was not reported`);
});
/** Code: fenced blocks and `inline code`. */
const codeOf = (text) => [...fenced(text), ...(text.replace(/```[\s\S]*?```/g, '').match(/`[^`\n]+`/g) ?? [])];
await check('the deployment docs name only repository paths that exist', () => {
  const missing = new Set();
  for (const text of Object.values(texts)) {
    for (const code of codeOf(text)) {
      for (const m of code.matchAll(/(?<![\w/.$-])((?:deploy|config|docs|src|bench|test|fuzz|\.ci)\/[\w./-]*|\.env\.example|Dockerfile|\.dockerignore|package\.json)/g)) {
        const path = m[1].replace(/[.,]+$/, '');
        if (!existsSync(path)) missing.add(path);
      }
    }
  }
  expect(missing.size === 0, [...missing].join(', '));
});
await check('every `npm run` script and mcp-level3 option in the deployment docs exists', () => {
  const scripts = JSON.parse(readFileSync('package.json', 'utf8')).scripts;
  const usage = /const USAGE = `([\s\S]*?)`;/.exec(readFileSync('src/cli.ts', 'utf8'))[1];
  const options = new Set(usage.match(/--[a-z-]+/g));
  const wrong = new Set();
  let seen = 0;
  for (const text of Object.values(texts)) {
    for (const code of codeOf(text)) {
      for (const m of code.matchAll(/npm run ([\w:-]+)/g)) { seen++; if (!scripts[m[1]]) wrong.add(`npm run ${m[1]}`); }
      for (const line of code.split('\n')) {
        const at = line.search(/(?:mcp-level3(?::\S+)? (?:stdio|http|apikey)\b|cli\.js\b)/);
        if (at < 0) continue;
        for (const option of line.slice(at).replace(/#.*$/, '').match(/--[a-z-]+/g) ?? []) { seen++; if (!options.has(option)) wrong.add(option); }
      }
    }
  }
  expect(seen > 5, `only ${seen} commands found`);
  expect(wrong.size === 0, [...wrong].join(', '));
});

// ---------------------------------------------------------------- live
const freePort = () => new Promise((ok) => { const srv = createServer().listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => ok(port)); }); });
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
const waitFor = async (what, fn, ms = 60000) => {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(500)) {
    try { const v = await fn(); if (v) return v; } catch { /* not yet */ }
  }
  throw new Error(`timed out waiting for ${what}`);
};
const children = [];
const dir = mkdtempSync(join(tmpdir(), 'obs-live-'));
try {
  const serverPort = await freePort();
  const promPort = await freePort();
  // The embedded defaults, as --data-dir memory:// says: not the shared database CI exports.
  const { DATABASE_URL: _database, REDIS_URL: _redis, NEO4J_URI: _neo4j, ...embeddedEnv } = process.env;
  children.push(spawn(process.execPath, ['dist/bundle/cli.js', 'http', '--port', String(serverPort), '--data-dir', 'memory://'], { stdio: 'ignore', env: embeddedEnv }));
  copyFileSync(`${OBS}/alerting-rules.yaml`, join(dir, 'alerting-rules.yaml'));
  const config = readFileSync(`${OBS}/prometheus-static.yaml`, 'utf8').replace('127.0.0.1:8080', `127.0.0.1:${serverPort}`).replace(/(scrape|evaluation)_interval: 30s/g, '$1_interval: 1s');
  writeFileSync(join(dir, 'prometheus-static.yaml'), config);
  const prometheus = spawn('prometheus', ['--config.file=prometheus-static.yaml', `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`], { cwd: dir, stdio: 'ignore' });
  children.push(prometheus);
  const spawned = new Promise((ok) => { prometheus.on('spawn', () => ok(true)); prometheus.on('error', () => ok(false)); });
  const api = async (path) => (await fetch(`http://127.0.0.1:${promPort}/api/v1/${path}`)).json();
  const serve = (path, init) => fetch(`http://127.0.0.1:${serverPort}${path}`, init);
  await check('live: Prometheus with prometheus-static.yaml scrapes the server (up, job="mcp-level3") and loads every rule healthy', async () => {
    expect(await spawned, 'prometheus is not installed (Debian package prometheus)');
    await waitFor('the server to be ready', async () => (await serve('/ready')).ok);
    // a few real calls, so the request, tool, registry and audit series exist
    const publish = await serve('/api/v1/registry/publish', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'acme/live', version: '1.0.0', content: 'hi' }) });
    expect(publish.ok, `registry publish ${publish.status}`);
    expect((await (await serve('/api/v1/governance/audit_verify')).json()).ok === true, 'audit verify');
    const up = await waitFor('the target to be up', async () => (await api('query?query=up')).data.result.find((r) => r.value[1] === '1'));
    expect(up.metric.job === 'mcp-level3', `job ${up.metric.job}`);
    await waitFor('the calls to be scraped', async () => (await api(`query?query=${encodeURIComponent('audit_chain_verifications_total{result="ok"} > 0')}`)).data.result.length > 0);
    // evaluated once at least (health is "unknown" before)
    const loaded = await waitFor('the rules to be evaluated', async () => {
      const all = (await api('rules')).data.groups.flatMap((g) => g.rules);
      return all.every((r) => r.health !== 'unknown') && all;
    });
    expect(loaded.length === rules.length && loaded.every((r) => r.health === 'ok'), `rules ${loaded.map((r) => `${r.name}:${r.health}`)}`);
    expect(loaded.every((r) => r.state === 'inactive'), `a rule fires on a healthy server: ${loaded.filter((r) => r.state !== 'inactive').map((r) => r.name)}`);
  });
  await check('live: Prometheus accepts every dashboard query, and the overview panels have data', async () => {
    // rate() needs two samples after the calls
    await waitFor('a request rate', async () => (await api(`query?query=${encodeURIComponent('sum(rate(http_requests_total{job="mcp-level3"}[1m])) > 0')}`)).data.result.length > 0);
    const errors = [];
    const empty = [];
    for (const panel of dashboard.panels) {
      for (const target of panel.targets ?? []) {
        const expr = target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*').replaceAll('$pod', '.*');
        const result = await api(`query?query=${encodeURIComponent(expr)}`);
        if (result.status !== 'success') errors.push(`${panel.title}: ${result.error}`);
        else if (result.data.result.length === 0) empty.push(panel.title);
      }
    }
    expect(errors.length === 0, errors.join('; '));
    // A loaded CI machine can be a scrape or two behind the calls: an overview panel empty at
    // first is asked again for up to 30 s before it counts as having no data.
    const exprsOf = (title) => dashboard.panels.find((p) => p.title === title).targets.map((t) => t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*').replaceAll('$pod', '.*'));
    for (const title of ['HTTP request rate by route', 'HTTP p95 latency', 'Tool calls by engine', 'execution: queue depth and bound', 'governance: audit chain verifications', 'Memory (RSS) and heap']) {
      if (!empty.includes(title)) continue;
      const filled = await waitFor(`data for ${title}`, async () => {
        for (const expr of exprsOf(title)) if ((await api(`query?query=${encodeURIComponent(expr)}`)).data.result.length > 0) return true;
        return false;
      }, 30_000).catch(() => false);
      expect(filled, `no data for ${title}`);
    }
  });
} finally {
  for (const child of children) child.kill('SIGTERM');
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
}

console.log(JSON.stringify({ passed, failed }));
process.exit(failed > 0 ? 1 : 0);
