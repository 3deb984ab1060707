// Writes deploy/helm/mcp-level3/values.schema.json: node deploy/helm/values-schema.mjs > deploy/helm/mcp-level3/values.schema.json
// (.ci/helm.sh fails when the committed file differs from this output).
const obj = (properties, required = [], extra = {}) => ({ type: 'object', additionalProperties: false, properties, ...(required.length ? { required } : {}), ...extra });
const open = (description) => ({ type: 'object', ...(description ? { description } : {}) });
const str = (description) => ({ type: 'string', ...(description ? { description } : {}) });
const bool = { type: 'boolean' };
const posInt = { type: 'integer', minimum: 1 };
const nonNeg = { type: 'integer', minimum: 0 };
const port = { type: 'integer', minimum: 1, maximum: 65535 };
const enumOf = (...values) => ({ enum: values });
const list = (items = {}) => ({ type: 'array', items });
const quantity = { type: ['string', 'number'] };
const resources = obj({ limits: open(), requests: open(), claims: list() });
const image = obj({ repository: str(), tag: { type: ['string', 'number'] }, pullPolicy: enumOf('Always', 'IfNotPresent', 'Never') }, ['repository']);
const engine = (settings = {}) => obj({ enabled: bool, ...settings }, ['enabled']);
const schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'mcp-level3 chart values',
  ...obj({
    replicaCount: posInt,
    image: obj({ repository: str(), tag: { type: ['string', 'number'] }, pullPolicy: enumOf('Always', 'IfNotPresent', 'Never') }, ['repository']),
    imagePullSecrets: list(open()),
    nameOverride: str(),
    fullnameOverride: str(),
    controlPlane: obj({ name: { type: 'string', minLength: 1 }, containerName: { type: 'string', minLength: 1 } }, ['name', 'containerName']),
    service: obj({ type: enumOf('ClusterIP', 'NodePort', 'LoadBalancer'), port, annotations: open() }, ['type', 'port']),
    ingress: obj({
      enabled: bool, className: str(), annotations: open(),
      hosts: list(obj({ host: str(), paths: list(obj({ path: str(), pathType: enumOf('Prefix', 'Exact', 'ImplementationSpecific') }, ['path', 'pathType'])) }, ['host', 'paths'])),
      tls: list(obj({ secretName: str(), hosts: list(str()) }, ['secretName'])),
    }, ['enabled']),
    resources,
    autoscaling: obj({ enabled: bool, minReplicas: posInt, maxReplicas: posInt, targetCPUUtilizationPercentage: { type: ['integer', 'null'], minimum: 1, maximum: 100 }, targetMemoryUtilizationPercentage: { type: ['integer', 'null'], minimum: 1, maximum: 100 } }, ['enabled']),
    podDisruptionBudget: obj({ enabled: bool, maxUnavailable: { type: ['integer', 'string'] } }),
    engines: obj({
      rag: engine({
        vectorStore: obj({ type: enumOf('pgvector'), connectionString: str('kept for the guide; vectors live in the server database') }),
        graphStore: obj({ type: enumOf('neo4j', 'postgres'), uri: str('kept for the guide; NEO4J_URI comes from the secret') }),
        settings: open('extra RAG_engine.settings, validated by the server'),
      }),
      dag: engine({ maxNodes: posInt }),
      governance: engine({ auditLevel: enumOf('none', 'basic', 'full') }),
      taxonomy: engine({ ontologyPath: str() }),
      execution: engine({ maxConcurrency: posInt }),
      validation: engine({ strictMode: bool }),
      promotion: engine({ approvalRequired: bool }),
      registry: engine({ storageClass: str(), maxContentBytes: posInt }),
    }, ['rag', 'dag', 'governance', 'taxonomy', 'execution', 'validation', 'promotion', 'registry']),
    apiRoutes: obj({ api_version: { type: 'string', pattern: '^v\\d+$' }, base_path: { type: 'string', pattern: '^/[A-Za-z0-9/_-]*$' }, protocol: { type: 'array', minItems: 1, items: enumOf('REST', 'JSON-RPC') } }, ['api_version', 'base_path', 'protocol']),
    configMaps: obj({ create: bool, engineMap: obj({ name: str() }, ['name']), apiRoutes: obj({ name: str() }, ['name']) }),
    database: obj({
      type: enumOf('postgresql', 'external', 'embedded'),
      external: obj({ host: str(), port, user: str(), name: str(), sslmode: enumOf('', 'disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full') }),
      pool: obj({ min: nonNeg, max: posInt, acquireTimeoutMillis: posInt, idleTimeoutMillis: posInt }),
      embedded: obj({ size: quantity, storageClass: str(), accessModes: list(str()) }),
    }, ['type']),
    postgresql: obj({ image, database: str(), user: str(), persistence: obj({ size: quantity, storageClass: str() }), resources }),
    redis: obj({ enabled: bool, image, maxmemory: str(), resources }),
    neo4j: obj({ enabled: bool, image, heap: str(), pagecache: str(), persistence: obj({ size: quantity, storageClass: str() }), resources }),
    cache: obj({ redis: obj({ enabled: bool, ttl: posInt, maxSize: posInt }), memory: obj({ enabled: bool, maxSize: posInt }) }),
    secrets: obj({ existingSecret: { type: 'string', minLength: 1 }, keys: obj(Object.fromEntries(['jwtSecret', 'dbPassword', 'databaseUrl', 'redisUrl', 'neo4jUri', 'neo4jUser', 'neo4jPassword', 'oauthClientSecret', 'embeddingsApiKey'].map((k) => [k, { type: 'string', minLength: 1 }]))) }, ['existingSecret']),
    observability: obj({
      tracing: obj({ enabled: bool, jaeger: obj({ endpoint: str() }), otlp: obj({ endpoint: str() }) }),
      metrics: obj({
        enabled: bool,
        prometheus: obj({ port, path: enumOf('/metrics') }),
        serviceMonitor: obj({ enabled: bool, interval: str(), labels: open() }),
        prometheusRule: obj({ enabled: bool, labels: open(), highLatencySeconds: { type: 'number', exclusiveMinimum: 0 }, highErrorRatio: { type: 'number', exclusiveMinimum: 0, maximum: 1 } }),
      }),
      logging: obj({ level: enumOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'), format: enumOf('json') }),
    }),
    security: obj({
      rbac: obj({ enabled: bool }),
      serviceAccount: obj({ create: bool, name: str(), annotations: open() }),
      networkPolicy: obj({ enabled: bool, ingressNamespaceSelector: open(), monitoringNamespaceSelector: open(), egressTo: list(open()), extraIngress: list(open()), extraEgress: list(open()) }),
      podSecurity: obj({ enforce: enumOf('restricted', 'baseline', 'privileged') }),
      podSecurityPolicy: obj({ enabled: { ...bool, description: 'accepted for the guide; PodSecurityPolicy was removed in Kubernetes 1.25 (see podSecurity)' } }),
      auth: obj({
        jwt: obj({ enabled: bool }),
        apiKey: obj({ enabled: bool }),
        oauth2: obj({ enabled: bool, issuer: str(), audience: str(), jwksUri: str(), clientId: str() }),
        insecureNoAuth: bool,
      }),
      allowedHosts: list(str()),
      trustProxy: { type: ['string', 'integer', 'boolean'], description: '"" = 1 hop with ingress.enabled, else none; a hop count; or trusted proxy CIDRs, comma-separated' },
      subscriptions: obj({ perPrincipal: posInt, total: posInt }),
    }),
    podSecurityContext: open(),
    securityContext: open(),
    canary: obj({ enabled: bool, provider: str(), analysis: obj({ interval: str(), threshold: posInt, maxWeight: posInt, stepWeight: posInt, successRate: { type: 'number', minimum: 0, maximum: 100 }, maxDurationMs: posInt }) }),
    extraEnv: list(open()),
    podAnnotations: open(),
    podLabels: open(),
    nodeSelector: open(),
    tolerations: list(open()),
    affinity: open(),
    topologySpreadConstraints: list(open()),
    terminationGracePeriodSeconds: nonNeg,
  }, ['replicaCount', 'image', 'service', 'engines', 'database', 'secrets']),
};
process.stdout.write(JSON.stringify(schema, null, 2) + '\n');
