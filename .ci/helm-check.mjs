// Checks a rendered chart (`helm template` output) against what the deployment guide and
// the server need. Usage: node .ci/helm-check.mjs <variant> <rendered.yaml> <work-dir>
//   variant: default | seed | production | embedded (what to expect differs per variant)
// Writes engine_map.yaml and api-routes.yaml from the ConfigMaps into <work-dir>/config and
// loads them with the server's own loadConfig (dist/), so a value the server would reject
// fails here. Prints one PASS/FAIL line per check to stderr and {"passed","failed"} as JSON
// on stdout; exits 1 when a check failed.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

const [variant, renderedPath, workDir] = process.argv.slice(2);
const docs = parseAllDocuments(readFileSync(renderedPath, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const find = (kind, name) => docs.find((d) => d.kind === kind && (!name || d.metadata.name === name));
const all = (kind) => docs.filter((d) => d.kind === kind);
let passed = 0, failed = 0;
function check(name, fn) {
  try {
    const problem = fn();
    if (problem) throw new Error(problem);
    passed++;
    console.error(`[helm-check ${variant}] PASS ${name}`);
  } catch (error) {
    failed++;
    console.error(`[helm-check ${variant}] FAIL ${name}: ${error.message}`);
  }
}
const expect = (cond, message) => { if (!cond) throw new Error(message); };

const deploy = find('Deployment', 'mcp-control-plane');
const pod = deploy?.spec.template.spec;
const container = pod?.containers.find((c) => c.name === 'control-plane');
const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e]));
const embedded = variant === 'embedded';

check('Deployment mcp-control-plane with container control-plane (the guide\'s kubectl commands)', () => {
  expect(deploy && container, 'missing');
  expect(deploy.spec.template.metadata.labels.app === 'mcp-level3', 'pods lack label app=mcp-level3 (kubectl logs -l app=mcp-level3, the scrape config and the NetworkPolicy select on it)');
});
check('probes: startup and liveness on /health, readiness on /ready, port 8080', () => {
  expect(container.livenessProbe.httpGet.path === '/health' && container.startupProbe.httpGet.path === '/health', 'liveness/startup not on /health');
  expect(container.readinessProbe.httpGet.path === '/ready', 'readiness not on /ready');
  expect(container.ports.some((p) => p.containerPort === 8080 && p.name === 'http'), 'no containerPort 8080');
});
check('config checksums on the pod template', () => {
  const a = deploy.spec.template.metadata.annotations ?? {};
  expect(/^[0-9a-f]{64}$/.test(a['checksum/engine-map'] ?? '') && /^[0-9a-f]{64}$/.test(a['checksum/api-routes'] ?? ''), 'checksum/engine-map or checksum/api-routes missing');
});
check('restricted Pod Security on every pod of the chart', () => {
  for (const w of [...all('Deployment'), ...all('StatefulSet')]) {
    const spec = w.spec.template.spec;
    expect(spec.securityContext?.runAsNonRoot === true, `${w.metadata.name}: runAsNonRoot`);
    expect(spec.securityContext?.seccompProfile?.type === 'RuntimeDefault', `${w.metadata.name}: seccompProfile RuntimeDefault`);
    for (const c of spec.containers) {
      const sc = c.securityContext ?? {};
      expect(sc.allowPrivilegeEscalation === false, `${w.metadata.name}/${c.name}: allowPrivilegeEscalation`);
      // The one exception: the neo4j image writes its configuration from the environment at start-up.
      if (c.name !== 'neo4j') expect(sc.readOnlyRootFilesystem === true, `${w.metadata.name}/${c.name}: readOnlyRootFilesystem`);
      expect(JSON.stringify(sc.capabilities?.drop) === '["ALL"]', `${w.metadata.name}/${c.name}: capabilities drop ALL`);
      expect(!sc.privileged, `${w.metadata.name}/${c.name}: privileged`);
    }
    expect(!(spec.volumes ?? []).some((v) => v.hostPath), `${w.metadata.name}: hostPath volume`);
  }
  expect(pod.automountServiceAccountToken === false, 'the server mounts a ServiceAccount token it does not use');
});
check('/config holds engine_map.yaml and api-routes.yaml; /data and /tmp are volumes', () => {
  const mounts = Object.fromEntries(container.volumeMounts.map((m) => [m.mountPath, m]));
  expect(mounts['/config']?.readOnly && mounts['/data'] && mounts['/tmp'], 'mounts missing');
  const cfg = pod.volumes.find((v) => v.name === mounts['/config'].name).projected.sources.map((s) => s.configMap.name);
  expect(cfg.includes('engine-map') && cfg.includes('api-routes'), `config volume sources: ${cfg}`);
  expect(container.args.join(' ').startsWith('http --config /config'), `args: ${container.args.join(' ')}`);
});
check('secrets come from secretKeyRef of the existing secret, never literal', () => {
  for (const name of ['JWT_SECRET', 'PGPASSWORD', 'NEO4J_PASSWORD', 'OAUTH_CLIENT_SECRET', 'EMBEDDINGS_API_KEY']) {
    if (env[name]) expect(env[name].valueFrom?.secretKeyRef?.name === 'mcp-secrets' && env[name].value === undefined, `${name} not from mcp-secrets`);
  }
  expect(!/password=|:[^@/]+@/.test(env.DATABASE_URL?.value ?? ''), 'DATABASE_URL carries a password');
});

// ------------------------------------------------------------------ seed values
if (!embedded) {
  check('the seed\'s scale: 3-10 replicas at 70% CPU / 80% memory (autoscaling/v2), PDB', () => {
    const hpa = find('HorizontalPodAutoscaler');
    const prod = variant === 'production';
    expect(hpa?.apiVersion === 'autoscaling/v2', 'no autoscaling/v2 HPA');
    expect(hpa.spec.minReplicas === 3 && hpa.spec.maxReplicas === 10, `min ${hpa.spec.minReplicas} max ${hpa.spec.maxReplicas}`);
    const target = (n) => hpa.spec.metrics.find((m) => m.resource.name === n)?.resource.target.averageUtilization;
    expect(target('cpu') === 70 && target('memory') === 80, `cpu ${target('cpu')} memory ${target('memory')}`);
    expect(find('PodDisruptionBudget')?.spec.maxUnavailable === 1, 'no PDB');
    expect(deploy.spec.replicas === undefined, 'replicas set although the HPA owns them');
    expect(prod || deploy.spec.strategy.type === 'RollingUpdate', 'not RollingUpdate');
  });
}
if (variant === 'default' || variant === 'seed') {
  check('the seed\'s service, ingress and resources', () => {
    const svc = find('Service', 'mcp-level3');
    expect(svc?.spec.type === 'LoadBalancer' && svc.spec.ports.some((p) => p.port === 8080), 'Service mcp-level3 LoadBalancer 8080');
    const ing = find('Ingress');
    expect(ing?.spec.ingressClassName === 'nginx', 'ingress class nginx');
    expect(ing.metadata.annotations['cert-manager.io/cluster-issuer'] === 'letsencrypt-prod', 'cert-manager annotation');
    expect(ing.spec.tls[0].secretName === 'mcp-tls' && ing.spec.tls[0].hosts[0] === 'mcp.example.com', 'TLS');
    expect(ing.spec.rules[0].host === 'mcp.example.com', 'host');
    const r = container.resources;
    expect(r.limits.cpu === '1000m' && r.limits.memory === '2Gi' && r.requests.cpu === '500m' && r.requests.memory === '1Gi', JSON.stringify(r));
    expect(deploy.spec.template.spec.containers[0].image === 'mcp-level3:1.0.0', `image ${container.image}`);
  });
  check('the seed\'s NetworkPolicy: 8080 from ingress-nginx; egress 5432, 6379, 7687 and DNS', () => {
    const np = find('NetworkPolicy', 'mcp-level3');
    expect(np.spec.podSelector.matchLabels['app.kubernetes.io/name'] === 'mcp-level3', 'podSelector');
    const from = np.spec.ingress[0];
    expect(from.from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'] === 'ingress-nginx' && from.ports[0].port === 8080, 'ingress');
    const ports = np.spec.egress.flatMap((e) => e.ports.map((p) => `${p.protocol}/${p.port}`));
    for (const p of ['TCP/5432', 'TCP/6379', 'TCP/7687', 'UDP/53', 'TCP/53']) expect(ports.includes(p), `egress ${p}`);
  });
  check('in-chart PostgreSQL (pgvector) on the seed\'s fast-ssd storage class, password from the secret', () => {
    const sts = find('StatefulSet', 'mcp-level3-postgresql');
    expect(sts, 'no StatefulSet');
    expect(sts.spec.volumeClaimTemplates[0].spec.storageClassName === 'fast-ssd', 'storageClassName');
    expect(sts.spec.template.spec.containers[0].image.startsWith('pgvector/pgvector:'), 'image');
    expect(env.DATABASE_URL.value === 'postgres://mcp@mcp-level3-postgresql:5432/mcp' && env.PGPASSWORD.valueFrom.secretKeyRef.key === 'db-password', 'DATABASE_URL/PGPASSWORD');
    expect(env.REDIS_URL.value === 'redis://mcp-level3-redis:6379', 'REDIS_URL');
    expect(env.JWT_SECRET.valueFrom.secretKeyRef.key === 'jwt-secret' && !env.JWT_SECRET.valueFrom.secretKeyRef.optional, 'JWT_SECRET required from jwt-secret');
  });
}
if (variant === 'production') {
  check('external database: URL without password, PGPASSWORD from the secret; no in-chart PostgreSQL or Redis', () => {
    expect(env.DATABASE_URL.value === 'postgres://mcp@pg.example.internal:5432/mcp?sslmode=require', env.DATABASE_URL.value);
    expect(!all('StatefulSet').some((s) => s.metadata.name.endsWith('-postgresql')) && !find('Deployment', 'mcp-level3-redis'), 'in-chart services rendered');
  });
  check('in-chart Neo4j: a StatefulSet reached over Bolt, the password from the secret', () => {
    const neo4j = all('StatefulSet').find((s) => s.metadata.name.endsWith('-neo4j'));
    expect(neo4j, 'no Neo4j StatefulSet');
    expect(/^bolt:\/\/.+-neo4j:7687$/.test(env.NEO4J_URI?.value ?? ''), `NEO4J_URI ${env.NEO4J_URI?.value}`);
    expect(env.NEO4J_PASSWORD?.valueFrom?.secretKeyRef?.key === 'neo4j-password' && !env.NEO4J_PASSWORD.valueFrom.secretKeyRef.optional, 'NEO4J_PASSWORD from the secret, required');
    const auth = neo4j.spec.template.spec.containers[0].env.find((e) => e.name === 'NEO4J_AUTH');
    expect(auth?.value === 'neo4j/$(NEO4J_PASSWORD)', 'NEO4J_AUTH');
    expect(all('NetworkPolicy').some((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/component'] === 'neo4j' && p.spec.ingress[0].ports[0].port === 7687), 'NetworkPolicy for Neo4j');
    expect(env.REDIS_URL.valueFrom.secretKeyRef.optional === true, 'REDIS_URL');
    expect(env.OAUTH_ENABLED.value === 'true' && env.OAUTH_ISSUER.value === 'https://auth.example.com/', 'OAuth env');
    expect(container.args.includes('--allowed-hosts') && container.args.includes('mcp.example.com'), 'allowed hosts');
  });
  check('ServiceMonitor, PrometheusRule and Flagger Canary', () => {
    const endpoint = find('ServiceMonitor')?.spec.endpoints[0];
    expect(endpoint?.path === '/metrics', 'ServiceMonitor');
    // the job the shared rules and the dashboard select
    expect(endpoint?.relabelings?.some((r) => r.targetLabel === 'job' && r.replacement === 'mcp-level3'), 'ServiceMonitor does not set job="mcp-level3"');
    // the PrometheusRule is deploy/observability/alerting-rules.yaml, every selector narrowed to the release's namespace
    const shared = parseAllDocuments(readFileSync('deploy/observability/alerting-rules.yaml', 'utf8'))[0].toJS().groups.flatMap((g) => g.rules.map((r) => r.alert));
    const rules = find('PrometheusRule')?.spec.groups.flatMap((g) => g.rules) ?? [];
    const alerts = rules.map((r) => r.alert);
    expect(alerts.includes('HighLatency') && alerts.includes('HighErrorRate'), `alerts ${alerts}`);
    expect(JSON.stringify(alerts) === JSON.stringify(shared), `PrometheusRule alerts ${alerts} are not alerting-rules.yaml's ${shared}`);
    for (const rule of rules) {
      for (const selector of rule.expr.match(/\{[^}]*\}/g) ?? []) {
        expect(selector.includes('namespace="mcp-level3"'), `${rule.alert}: ${selector} is not narrowed to the release's namespace`);
      }
    }
    const canary = find('Canary');
    expect(canary?.spec.targetRef.name === 'mcp-control-plane' && canary.spec.autoscalerRef?.name === 'mcp-control-plane', 'Canary');
  });
}
if (embedded) {
  check('embedded database: one replica, Recreate, PVC on fast-ssd, no HPA/PDB/StatefulSet', () => {
    expect(deploy.spec.replicas === 1 && deploy.spec.strategy.type === 'Recreate', `replicas ${deploy.spec.replicas} ${deploy.spec.strategy.type}`);
    expect(!find('HorizontalPodAutoscaler') && !find('PodDisruptionBudget') && !find('StatefulSet'), 'HPA, PDB or StatefulSet rendered');
    const pvc = find('PersistentVolumeClaim');
    expect(pvc?.spec.storageClassName === 'fast-ssd', 'PVC storage class');
    expect(pod.volumes.find((v) => v.name === 'data').persistentVolumeClaim.claimName === pvc.metadata.name, 'data volume is not the PVC');
    expect(!env.DATABASE_URL && container.args.includes('--insecure-no-auth'), 'DATABASE_URL set or --insecure-no-auth missing');
  });
}

// ------------------------------------------------------------------ the server's own validation
const configDir = resolve(workDir, 'config');
mkdirSync(configDir, { recursive: true });
const engineMapCm = find('ConfigMap', 'engine-map');
const apiRoutesCm = find('ConfigMap', 'api-routes');
let validation;
check('the rendered engine-map and api-routes ConfigMaps pass the server\'s loadConfig', () => {
  expect(engineMapCm && apiRoutesCm, 'ConfigMaps missing');
  writeFileSync(join(configDir, 'engine_map.yaml'), engineMapCm.data['engine_map.yaml']);
  writeFileSync(join(configDir, 'api-routes.yaml'), apiRoutesCm.data['api-routes.yaml']);
  return undefined;
});
const { loadConfig, ConfigError } = await import(pathToFileURL(resolve('dist/src/config/load-config.js')).href);
check('loadConfig(rendered /config)', () => {
  try {
    validation = loadConfig({ configDir, explicit: true, env: {} });
  } catch (error) {
    throw new Error(error instanceof ConfigError ? error.problems.join('; ') : error.message, { cause: error });
  }
  const e = validation.engineMap.engine_map;
  expect(validation.sources.engineMap.startsWith(configDir) && validation.sources.apiRoutes.startsWith(configDir), 'read the bundled files instead');
  if (variant !== 'production') {
    expect(e.DAG_engine.settings.maxNodes === 10000 && e.execution.settings.maxConcurrency === 100, 'dag/execution');
    expect(e.validation.settings.strictMode === true && e.promotion.settings.approvalRequired === true, 'validation/promotion');
    expect(e.registry.settings.storageClass === 'fast-ssd' && e.RAG_engine.settings.graphStore === 'neo4j' && e.RAG_engine.settings.vectorStore === 'pgvector', 'registry/rag');
    expect(e.governance.settings.auditLevel === 'full' && e.taxonomy.settings.ontologyPath === '/config/ontology.owl', 'governance/taxonomy');
    expect(validation.engineMap.database.pool.max === 50 && validation.engineMap.logging.level === 'info', 'pool/logging');
  } else {
    expect(e.RAG_engine.settings.chunkSize === 800 && e.RAG_engine.settings.efSearch === 200 && e.RAG_engine.settings.graphStore === 'postgres', 'rag settings');
  }
  expect(validation.apiRoutes.base_path === '/api/v1', 'api routes');
});
check('the trust settings reach the server: client addresses behind the ingress, subscriptions per principal', () => {
  const value = (name) => env[name]?.value;
  expect(value('MCP_TRUST_PROXY') === (find('Ingress') ? '1' : 'false'), `MCP_TRUST_PROXY ${value('MCP_TRUST_PROXY')} with${find('Ingress') ? '' : 'out'} an Ingress`);
  const names = ['MCP_TRUST_PROXY', 'MCP_SUBSCRIPTIONS_PER_PRINCIPAL', 'MCP_SUBSCRIPTIONS_TOTAL'];
  const security = loadConfig({ configDir, explicit: true, env: Object.fromEntries(names.map((name) => [name, value(name)])) }).auth.security;
  expect(security.trust_proxy === (find('Ingress') ? 1 : 0) && security.subscriptions.per_principal === 16 && security.subscriptions.total === 1024, JSON.stringify(security));
});

console.log(JSON.stringify({ passed, failed }));
process.exit(failed > 0 ? 1 : 0);
