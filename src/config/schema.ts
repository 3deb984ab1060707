/*
 * Configuration schema
 * ====================
 * The three files users edit (config/engine_map.yaml, config/api-routes.yaml,
 * config/auth-config.yaml), validated at start-up. Objects are strict: a misspelt key is
 * an error, never silently ignored. Messages say what was expected; the loader adds the
 * file, the key path and what was found.
 */
import type proxyAddr from 'proxy-addr';
import { z } from 'zod';
import { FUSION_METHODS } from '../engines/rag/fusion.js';
import { isCidr } from '../platform/net/address-policy.js';
import { RERANK_APIS } from '../platform/rerank/rerank-port.js';
import { DEFAULT_REDACT } from '../platform/redact.js';
import { lazyRequire } from '../platform/lazy-require.js';
import { MAX_DOCUMENT_BYTES } from '../engines/rag/limits.js';

// Required only when a list of trusted proxies is configured: loading it on every start
// delayed a stdio server's answer to `initialize`.
const proxyAddrLib = lazyRequire<typeof proxyAddr>('proxy-addr');

const positiveInt = () => z.number({ error: 'expected a positive integer' }).int({ error: 'expected a positive integer' }).positive({ error: 'expected a positive integer' });
const nonNegativeInt = () => z.number({ error: 'expected an integer ≥ 0' }).int({ error: 'expected an integer ≥ 0' }).min(0, { error: 'expected an integer ≥ 0' });
const bool = () => z.boolean({ error: 'expected true or false' });
const text = () => z.string({ error: 'expected a string' });
/** A list given as one comma-separated string (from an environment variable) or as a list. */
const commaList = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : (v ?? []);
const cidr = () =>
  text().refine((v) => isCidr(v), { error: 'expected a CIDR like "10.0.0.0/8" or "fd00::/8"' });
const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.map((v) => JSON.stringify(v)).join(', ')}` });

export const PROMOTION_GATES = ['schema', 'policy', 'taxonomy'] as const;
const DEFAULT_ENVIRONMENTS = [
  { name: 'dev', approvals: 0, gates: [...PROMOTION_GATES] },
  { name: 'staging', approvals: 1, gates: [...PROMOTION_GATES] },
  { name: 'prod', approvals: 2, gates: [...PROMOTION_GATES] },
];
// Hybrid fusion defaults, chosen across the license and man-page sets with both embedders
// (docs/rag.md, "Choosing the fusion"): a convex combination of standardized scores and the
// heuristic graph list only lightly weighted; the vector list's weight, unset, follows the
// embedder (rag/fusion.ts DEFAULT_VECTOR_WEIGHT).
const FUSION_METHOD = 'convex';
const FUSION_WEIGHTS = { fulltext: 1, graph: 0.1 };
// Reciprocal-rank fusion constant (fusion "rrf"); the sweep is in
// bench/results/2026-11-rag-measurements.md (60, the paper's, weighs a retriever's first hits
// little more than its tenth).
const RRF_K = 10;
// Optional reranking of hybrid's best fused candidates (rag/rerank.ts): off while url is empty.
const RERANK = { candidates: 50, timeoutMs: 5000 };
// An environment value re-read as YAML may come back a number ("RERANK_MODEL=2"): a string here.
const emptyAsUnset = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === '' || v === null ? undefined : typeof v === 'number' ? String(v) : v), schema.optional());
const httpUrl = (variable: string) =>
  text().refine(
    (v) => {
      try {
        return ['http:', 'https:'].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { error: `expected an http(s) URL such as "http://localhost:8080" (${variable})` },
  );

const engineBase = {
  enabled: bool().default(true),
  semantic_role: text(),
};

const engineMapSchema = z.strictObject({
  RAG_engine: z.strictObject({
    ...engineBase,
    modules: z.array(oneOf(['VectorRAG', 'GraphRAG', 'HybridRAG'] as const)).default(['VectorRAG', 'GraphRAG', 'HybridRAG']),
    settings: z
      .strictObject({
        vectorStore: oneOf(['pgvector'] as const).default('pgvector'),
        graphStore: oneOf(['postgres', 'neo4j'] as const).default('postgres'),
        chunkSize: positiveInt().default(1000),
        chunkOverlap: nonNegativeInt().default(150),
        efSearch: positiveInt().default(100),
        // empty or absent: 20,000 on PGlite, 1,000 on PostgreSQL (see rag-engine.ts)
        exactScanMaxChunks: z.preprocess((v) => (v === '' ? undefined : v), nonNegativeInt().optional()),
        fusion: oneOf(FUSION_METHODS).default(FUSION_METHOD),
        vectorIndexQuietMs: nonNegativeInt().default(5000),
        rrfK: positiveInt().default(RRF_K),
        fusionWeights: z
          .strictObject({
            // empty or absent: by the embedder (0.5 for the offline one, 1 for neural ones)
            vector: z.preprocess((v) => (v === '' ? undefined : v), z.number({ error: 'expected a number' }).min(0).optional()),
            fulltext: z.number({ error: 'expected a number' }).min(0).default(FUSION_WEIGHTS.fulltext),
            graph: z.number({ error: 'expected a number' }).min(0).default(FUSION_WEIGHTS.graph),
          })
          .default(FUSION_WEIGHTS),
        // rag_ingest's schema states this ceiling to every client, so a setting cannot pass it.
        maxDocumentBytes: positiveInt().max(MAX_DOCUMENT_BYTES, { error: `at most ${MAX_DOCUMENT_BYTES} (5 MiB), the limit rag_ingest's schema states` }).default(MAX_DOCUMENT_BYTES),
        rerank: z
          .strictObject({
            url: emptyAsUnset(httpUrl('RERANK_URL')),
            // tei or cohere; empty: cohere when a model is named, else tei
            api: emptyAsUnset(oneOf(RERANK_APIS)),
            model: emptyAsUnset(text()),
            candidates: positiveInt().max(1000, { error: 'at most 1000' }).default(RERANK.candidates),
            timeoutMs: positiveInt().default(RERANK.timeoutMs),
          })
          .default(RERANK),
      })
      .refine((s) => s.chunkOverlap < s.chunkSize, { error: 'chunkOverlap must be smaller than chunkSize' })
      .default({ vectorStore: 'pgvector', graphStore: 'postgres', chunkSize: 1000, chunkOverlap: 150, efSearch: 100, vectorIndexQuietMs: 5000, fusion: FUSION_METHOD, rrfK: RRF_K, fusionWeights: FUSION_WEIGHTS, maxDocumentBytes: MAX_DOCUMENT_BYTES, rerank: RERANK }),
  }),
  DAG_engine: z.strictObject({
    ...engineBase,
    modules: z.array(text()).default([]),
    settings: z
      .strictObject({
        maxNodes: positiveInt().default(10000),
        // empty: the http_request action is off; a comma-separated string (DAG_HTTP_ALLOWED_HOSTS) or a list
        httpAllowedHosts: z.preprocess(commaList, z.array(text())).default([]),
        // CIDRs http_request may reach although private, loopback or link-local ("10.0.0.0/8");
        // a comma-separated string (DAG_HTTP_ALLOWED_NETWORKS) or a list
        httpAllowedNetworks: z.preprocess(commaList, z.array(cidr())).default([]),
        // $secret("NAME") in http_request headers reads the environment variable of this prefix + NAME
        secretEnvPrefix: text().regex(/^[A-Z][A-Z0-9_]*_$/, { error: 'expected an upper-case prefix ending in "_", like "MCP_SECRET_"' }).default('MCP_SECRET_'),
        leaseSeconds: positiveInt().default(30),
        pollIntervalMs: positiveInt().default(500),
        maxQueuedRuns: positiveInt().default(1000),
        // budget of one JSONata evaluation (a node's input or condition, a run's output)
        expressionTimeoutMs: positiveInt().default(1000),
        expressionMaxDepth: positiveInt().default(1000),
        // a node whose attempt was cut short by a process crash this many times fails
        maxInterruptedAttempts: positiveInt().default(3),
      })
      .default({
        maxNodes: 10000,
        httpAllowedHosts: [],
        httpAllowedNetworks: [],
        secretEnvPrefix: 'MCP_SECRET_',
        leaseSeconds: 30,
        pollIntervalMs: 500,
        maxQueuedRuns: 1000,
        expressionTimeoutMs: 1000,
        expressionMaxDepth: 1000,
        maxInterruptedAttempts: 3,
      }),
  }),
  execution: z.strictObject({
    ...engineBase,
    modules: z.array(text()).default([]),
    settings: z
      .strictObject({ maxConcurrency: positiveInt().default(100), runConcurrency: positiveInt().default(50), maxQueued: positiveInt().default(10000) })
      .default({ maxConcurrency: 100, runConcurrency: 50, maxQueued: 10000 }),
  }),
  governance: z.strictObject({
    ...engineBase,
    modules: z.array(text()).default([]),
    settings: z
      .strictObject({
        auditLevel: oneOf(['none', 'basic', 'full'] as const).default('full'),
        // most comprehension steps one policy evaluation may take (estimated at set, counted when run)
        policyCostLimit: positiveInt().default(100_000),
        // most milliseconds one policy evaluation may take
        policyTimeoutMs: positiveInt().default(200),
        // how long the call gate trusts its policy set without reading the revision again;
        // a change made here, or announced by another replica over Redis, applies at once
        policyRevisionMaxAgeMs: positiveInt().default(1000),
      })
      .default({ auditLevel: 'full', policyCostLimit: 100_000, policyTimeoutMs: 200, policyRevisionMaxAgeMs: 1000 }),
  }),
  taxonomy: z.strictObject({
    ...engineBase,
    modules: z.array(text()).default([]),
    settings: z.strictObject({ ontologyPath: text().default('ontology.owl') }).default({ ontologyPath: 'ontology.owl' }),
  }),
  validation: z.strictObject({
    ...engineBase,
    modules: z.array(text()).default([]),
    settings: z.strictObject({ strictMode: bool().default(true) }).default({ strictMode: true }),
  }),
  promotion: z.strictObject({
    ...engineBase,
    modules: z.array(text()).default([]),
    settings: z
      .strictObject({
        // false: no environment waits for approvals (each is promoted once its gates pass)
        approvalRequired: bool().default(true),
        requestTtlHours: positiveInt().default(72),
        environments: z
          .array(
            z.strictObject({
              name: text().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'expected a lower-case name like "staging"' }),
              approvals: nonNegativeInt(),
              gates: z.array(oneOf(PROMOTION_GATES)).default([...PROMOTION_GATES]),
            }),
          )
          .min(1, { error: 'expected at least one environment' })
          .refine((envs) => new Set(envs.map((e) => e.name)).size === envs.length, { error: 'environment names must be unique' })
          .default(DEFAULT_ENVIRONMENTS),
      })
      .default({ approvalRequired: true, requestTtlHours: 72, environments: DEFAULT_ENVIRONMENTS }),
  }),
  registry: z.strictObject({
    ...engineBase,
    modules: z.array(text()).default([]),
    settings: z
      .strictObject({
        storageClass: text().default('standard'),
        maxContentBytes: positiveInt().default(10 * 1024 * 1024),
      })
      .default({ storageClass: 'standard', maxContentBytes: 10 * 1024 * 1024 }),
  }),
});

export const engineMapFileSchema = z.strictObject({
  engine_map: engineMapSchema,
  database: z
    .strictObject({
      pool: z
        .strictObject({
          min: nonNegativeInt().default(10),
          max: positiveInt().default(50),
          acquireTimeoutMillis: positiveInt().default(30000),
          idleTimeoutMillis: positiveInt().default(30000),
        })
        .default({ min: 10, max: 50, acquireTimeoutMillis: 30000, idleTimeoutMillis: 30000 }),
      // the embedded PGlite (no DATABASE_URL): PostgreSQL's buffer cache inside the process;
      // its files are also in the OS page cache, so a small one costs little speed
      embedded: z.strictObject({ sharedBuffersMb: positiveInt().default(64) }).default({ sharedBuffersMb: 64 }),
    })
    .default({ pool: { min: 10, max: 50, acquireTimeoutMillis: 30000, idleTimeoutMillis: 30000 }, embedded: { sharedBuffersMb: 64 } }),
  cache: z
    .strictObject({
      redis: z.strictObject({ enabled: bool().default(true), ttl: positiveInt().default(3600), maxSize: positiveInt().default(1000) }).default({ enabled: true, ttl: 3600, maxSize: 1000 }),
      memory: z.strictObject({ enabled: bool().default(true), maxSize: positiveInt().default(500) }).default({ enabled: true, maxSize: 500 }),
    })
    .default({ redis: { enabled: true, ttl: 3600, maxSize: 1000 }, memory: { enabled: true, maxSize: 500 } }),
  logging: z
    .strictObject({
      level: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const).default('info'),
      format: oneOf(['json'] as const).default('json'),
      // field and header names whose values are masked in logs and audit arguments; `*` matches any characters
      redact: z.array(text().min(1, { error: 'expected a field name or pattern like "*-key"' })).default([...DEFAULT_REDACT]),
    })
    .default({ level: 'info', format: 'json', redact: [...DEFAULT_REDACT] }),
});

export const apiRoutesFileSchema = z.strictObject({
  api_version: text().regex(/^v\d+$/, { error: 'expected a version like "v1"' }),
  base_path: text().regex(/^\/[A-Za-z0-9/_-]*$/, { error: 'expected an absolute URL path like "/api/v1"' }),
  protocol: z.array(oneOf(['REST', 'JSON-RPC'] as const)).min(1, { error: 'expected at least one of "REST", "JSON-RPC"' }),
});

const duration = (example: string) =>
  text().regex(/^\d+[smhd]$/, { error: `expected a duration like "${example}" (a number and s, m, h or d)` });

const authenticationSchema = z
  .strictObject({
    oauth2: z
      .strictObject({
        enabled: bool().default(false),
        provider: text().default(''),
        issuer: text().default(''),
        // empty: the resource URL (security.resource_url), as the MCP authorization spec asks
        audience: text().default(''),
        // empty: discovered from the issuer's metadata (RFC 8414, then OpenID Connect)
        jwks_uri: text().default(''),
        client_id: text().default(''),
        client_secret: text().default(''),
        clock_skew: duration('60s').default('60s'),
      })
      .default({ enabled: false, provider: '', issuer: '', audience: '', jwks_uri: '', client_id: '', client_secret: '', clock_skew: '60s' }),
    jwt: z
      .strictObject({
        enabled: bool().default(false),
        secret: text().default(''),
        expiry: duration('24h').default('24h'),
      })
      .default({ enabled: false, secret: '', expiry: '24h' }),
    api_key: z
      .strictObject({
        // auto: required once any unrevoked key exists (see docs/security.md)
        enabled: z.union([z.boolean(), z.literal('auto')], { error: 'expected true, false or "auto"' }).default('auto'),
        header: text().regex(/^[A-Za-z0-9-]+$/, { error: 'expected an HTTP header name like "X-API-Key"' }).default('X-API-Key'),
      })
      .default({ enabled: 'auto', header: 'X-API-Key' }),
  });

const SCOPE = /^(\*|[a-z]+:[a-z]+)$/;

// stdio is the local user's own server; these are the rights its one principal has. A
// comma-separated string is accepted too, so one environment variable can set them.
const stdioSchema = z
  .strictObject({
    principal: text().regex(/^[A-Za-z0-9][A-Za-z0-9:._@-]{0,99}$/, { error: 'expected a principal id like "local" or "alice@example.com"' }).default('local'),
    scopes: z
      .union([z.array(text()), text().transform((value) => value.split(','))], { error: 'expected a list of scopes, or a comma-separated string' })
      .transform((scopes) => scopes.map((scope) => scope.trim()).filter(Boolean))
      .pipe(z.array(text().regex(SCOPE, { error: 'expected scopes like "registry:read" or "*"' })))
      .default(['*']),
  })
  .default({ principal: 'local', scopes: ['*'] });

/**
 * `security.trust_proxy`: how the client address is found behind proxies. The result is a
 * hop count (0: the socket's peer is the client, X-Forwarded-* ignored; n: the n nearest
 * proxies are trusted, so the client is the n-th X-Forwarded-For entry from the right) or
 * the list of trusted proxy addresses and CIDRs (and proxy-addr's names loopback,
 * linklocal, uniquelocal): the client is the first address from the right that is not
 * trusted. `false` is 0 and `true` is 1 (one proxy, the usual ingress). A string is a
 * comma-separated list (so one environment variable can set it), or a number.
 */
const trustProxySchema = z
  .union([z.boolean(), nonNegativeInt(), text(), z.array(text())], { error: 'expected false, true, a hop count, or a list of trusted proxy addresses/CIDRs' })
  .transform((value, ctx): number | string[] => {
    if (value === false) return 0;
    if (value === true) return 1;
    if (typeof value === 'number') return value;
    const list = (typeof value === 'string' ? value.split(',') : value).map((entry) => entry.trim()).filter(Boolean);
    if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value.trim());
    if (typeof value === 'string' && ['', 'false'].includes(value.trim().toLowerCase())) return 0;
    if (typeof value === 'string' && value.trim().toLowerCase() === 'true') return 1;
    try {
      proxyAddrLib().compile(list);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `${(error as Error).message}; expected addresses or CIDRs like "10.0.0.0/8", or loopback, linklocal, uniquelocal` });
      return z.NEVER;
    }
    return list;
  });

const securitySchema = z
  .strictObject({
    // Public URL of this server's MCP endpoint, e.g. https://mcp.example.com/mcp: the OAuth2
    // audience and the `resource` of /.well-known/oauth-protected-resource.
    resource_url: z.union([z.literal(''), z.url({ error: 'expected an absolute URL like "https://mcp.example.com/mcp"' })]).default(''),
    // empty: 10 MiB, or more when registry.maxContentBytes needs it (base64 grows content by 4/3)
    max_body_bytes: z.preprocess((v) => (v === '' ? undefined : v), positiveInt().optional()),
    max_json_depth: positiveInt().default(64),
    rate_limit: z
      .strictObject({
        // per authenticated principal; 0 turns it off
        requests_per_minute: nonNegativeInt().default(1200),
        // per client address, counting requests whose credentials were refused
        failed_auth_per_minute: positiveInt().default(10),
      })
      .default({ requests_per_minute: 1200, failed_auth_per_minute: 10 }),
    // which proxies' X-Forwarded-For / X-Forwarded-Proto to believe: a hop count, or a list
    // of trusted addresses and CIDRs (see trustProxySchema)
    trust_proxy: trustProxySchema.default(0),
    subscriptions: z
      .strictObject({
        // open subscriptions/listen streams one principal may hold on one replica
        per_principal: positiveInt().default(16),
        // open subscriptions/listen streams on one replica, all principals together
        total: positiveInt().default(1024),
      })
      .default({ per_principal: 16, total: 1024 }),
    cors: z
      .strictObject({ allowed_origins: z.array(text()).default([]) })
      .default({ allowed_origins: [] }),
  })
  .default({ resource_url: '', max_body_bytes: undefined, max_json_depth: 64, rate_limit: { requests_per_minute: 1200, failed_auth_per_minute: 10 }, trust_proxy: 0, subscriptions: { per_principal: 16, total: 1024 }, cors: { allowed_origins: [] } });

export const authConfigFileSchema = z
  .strictObject({ authentication: authenticationSchema, security: securitySchema, stdio: stdioSchema })
  .superRefine((file, ctx) => {
    const { jwt, oauth2 } = file.authentication;
    if (jwt.enabled && jwt.secret.length < 32) {
      ctx.addIssue({
        code: 'custom',
        path: ['authentication', 'jwt', 'secret'],
        message: `JWT is enabled but the secret is ${jwt.secret ? 'shorter than 32 characters' : 'empty'}; set JWT_SECRET to at least 32 random characters (e.g. \`openssl rand -base64 48\`)`,
      });
    }
    if (oauth2.enabled && !/^https?:\/\//.test(oauth2.issuer)) {
      ctx.addIssue({ code: 'custom', path: ['authentication', 'oauth2', 'issuer'], message: 'OAuth2 is enabled but no issuer URL is set; set OAUTH_ISSUER, e.g. "https://login.example.com/"' });
    }
    if (oauth2.enabled && !oauth2.audience && !file.security.resource_url) {
      ctx.addIssue({
        code: 'custom',
        path: ['security', 'resource_url'],
        message: 'OAuth2 is enabled but neither oauth2.audience nor security.resource_url is set; set MCP_RESOURCE_URL to this server\'s public MCP URL, e.g. "https://mcp.example.com/mcp"',
      });
    }
  });

export type EngineMapFile = z.infer<typeof engineMapFileSchema>;
export type ApiRoutesFile = z.infer<typeof apiRoutesFileSchema>;
export type AuthConfigFile = z.infer<typeof authConfigFileSchema>;
