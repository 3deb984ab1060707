import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { interpolate } from '../../src/config/interpolate.js';
import { configProblems } from '../helpers/failures.js';

function configDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-config-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const problems = configProblems;

const ENGINE_MAP = (dagSettings: string) => `
engine_map:
  RAG_engine: { semantic_role: r }
  DAG_engine:
    semantic_role: d
    settings:
${dagSettings}
  execution: { semantic_role: e }
  governance: { semantic_role: g }
  taxonomy: { semantic_role: t }
  validation: { semantic_role: v }
  promotion: { semantic_role: p }
  registry: { semantic_role: reg }
`;

describe('configuration', () => {
  it('loads the shipped files with the seed defaults', () => {
    const config = loadConfig({ configDir: 'config', explicit: true, env: {} });
    const engines = config.engineMap.engine_map;
    expect(engines.DAG_engine.settings.maxNodes).toBe(10000);
    expect(engines.execution.settings.maxConcurrency).toBe(100);
    expect(engines.validation.settings.strictMode).toBe(true);
    expect(engines.promotion.settings.approvalRequired).toBe(true);
    expect(engines.governance.settings.auditLevel).toBe('full');
    expect(engines.RAG_engine.modules).toEqual(['VectorRAG', 'GraphRAG', 'HybridRAG']);
    expect(config.engineMap.database.pool).toEqual({ min: 10, max: 50, acquireTimeoutMillis: 30000, idleTimeoutMillis: 30000 });
    expect(config.apiRoutes).toEqual({ api_version: 'v1', base_path: '/api/v1', protocol: ['REST', 'JSON-RPC'] });
    expect(config.auth.authentication.api_key.header).toBe('X-API-Key');
    expect(config.ontologyPath).toMatch(/config\/ontology\.owl$/);
  });

  it('takes values from the environment, typed by what they look like', () => {
    const config = loadConfig({ configDir: 'config', explicit: true, env: { DAG_MAX_NODES: '250', VALIDATION_STRICT_MODE: 'false', AUDIT_LEVEL: 'basic' } });
    expect(config.engineMap.engine_map.DAG_engine.settings.maxNodes).toBe(250);
    expect(config.engineMap.engine_map.validation.settings.strictMode).toBe(false);
    expect(config.engineMap.engine_map.governance.settings.auditLevel).toBe('basic');
  });

  it('fuses hybrid lists by convex combination unless RAG_FUSION says rrf, and names the choices for anything else', () => {
    const rag = (env: Record<string, string>) => loadConfig({ configDir: 'config', explicit: true, env }).engineMap.engine_map.RAG_engine.settings;
    expect(rag({}).fusion).toBe('convex');
    expect(rag({}).fusionWeights).toEqual({ fulltext: 1, graph: 0.1 }); // vector: by the embedder
    expect(rag({ RAG_FUSION: 'rrf', RAG_RRF_K: '60', RAG_VECTOR_WEIGHT: '1' })).toMatchObject({ fusion: 'rrf', rrfK: 60, fusionWeights: { vector: 1 } });
    expect(problems(() => loadConfig({ configDir: 'config', explicit: true, env: { RAG_FUSION: 'sum' } }))).toEqual([
      expect.stringContaining('engine_map.RAG_engine.settings.fusion: expected one of "convex", "rrf"'),
    ]);
  });

  it('requires API keys once one exists by default (auto), and runs stdio as local with every scope unless told otherwise', () => {
    const shipped = loadConfig({ configDir: 'config', explicit: true, env: {} }).auth;
    expect(shipped.authentication.api_key.enabled).toBe('auto');
    expect(shipped.stdio).toEqual({ principal: 'local', scopes: ['*'] });
    const set = loadConfig({ configDir: 'config', explicit: true, env: { API_KEY_ENABLED: 'true', MCP_STDIO_PRINCIPAL: 'ci-agent', MCP_STDIO_SCOPES: 'registry:read, rag:read' } }).auth;
    expect(set.authentication.api_key.enabled).toBe(true);
    expect(set.stdio).toEqual({ principal: 'ci-agent', scopes: ['registry:read', 'rag:read'] });
    expect(problems(() => loadConfig({ configDir: 'config', explicit: true, env: { API_KEY_ENABLED: 'sometimes' } }))).toEqual([
      expect.stringContaining('authentication.api_key.enabled: expected true, false or "auto"'),
    ]);
  });

  it('names file, key path, expectation and the value found', () => {
    const dir = configDir({ 'engine_map.yaml': ENGINE_MAP('      maxNodes: ten') });
    expect(problems(() => loadConfig({ configDir: dir, explicit: true, env: {} }))).toEqual([
      expect.stringMatching(/engine_map\.yaml: engine_map\.DAG_engine\.settings\.maxNodes: expected a positive integer, got "ten"$/),
    ]);
  });

  it('reports the same error for a bad value that came from the environment', () => {
    const p = problems(() => loadConfig({ configDir: 'config', explicit: true, env: { DAG_MAX_NODES: '-3' } }));
    expect(p).toEqual([expect.stringContaining('engine_map.DAG_engine.settings.maxNodes: expected a positive integer, got -3')]);
  });

  it('treats unknown keys as errors so typos cannot pass silently', () => {
    const dir = configDir({ 'engine_map.yaml': ENGINE_MAP('      maxNode: 5') });
    expect(problems(() => loadConfig({ configDir: dir, explicit: true, env: {} }))).toEqual([
      expect.stringContaining('engine_map.DAG_engine.settings: unknown key "maxNode": remove it or check the spelling'),
    ]);
  });

  it('reports every invalid file at once', () => {
    const dir = configDir({ 'api-routes.yaml': 'api_version: one\nbase_path: /api/v1\nprotocol: [SOAP]\n', 'auth-config.yaml': 'authentication:\n  jwt: { expiry: forever }\n' });
    const p = problems(() => loadConfig({ configDir: dir, explicit: true, env: {} }));
    expect(p).toHaveLength(3);
    expect(p.join('\n')).toMatch(/api-routes\.yaml: api_version: expected a version like "v1", got "one"/);
    expect(p.join('\n')).toMatch(/api-routes\.yaml: protocol\[0\]: expected one of "REST", "JSON-RPC", got "SOAP"/);
    expect(p.join('\n')).toMatch(/auth-config\.yaml: authentication\.jwt\.expiry: expected a duration like "24h"/);
  });

  it('reports YAML syntax errors with their line', () => {
    const dir = configDir({ 'api-routes.yaml': 'api_version: "v1\nbase_path: x\n' });
    expect(problems(() => loadConfig({ configDir: dir, explicit: true, env: {} }))[0]).toMatch(/api-routes\.yaml: not valid YAML \(line \d+, column \d+\)/);
  });

  it('names an unset variable that has no default', () => {
    const dir = configDir({ 'auth-config.yaml': 'authentication:\n  jwt: { secret: "${MY_SECRET}" }\n' });
    expect(problems(() => loadConfig({ configDir: dir, explicit: true, env: {} }))[0]).toContain(
      'authentication.jwt.secret: environment variable MY_SECRET is not set',
    );
  });

  it('falls back to the shipped files when a file is missing, and requires an explicit directory to exist', () => {
    const empty = configDir({});
    expect(loadConfig({ configDir: empty, explicit: true, env: {} }).apiRoutes.base_path).toBe('/api/v1');
    expect(problems(() => loadConfig({ configDir: '/no/such/dir', explicit: true, env: {} }))[0]).toContain('--config /no/such/dir: no such directory');
  });
});

describe('interpolation', () => {
  it('replaces ${VAR} and ${VAR:-default} inside strings, leaving the structure alone', () => {
    const env = { HOST: 'db', PORT: '5432', EVIL: 'x\n  injected: true' };
    expect(interpolate({ url: 'postgres://${HOST}:${PORT:-1}/x', port: '${PORT}', other: '${NOPE:-fallback}', evil: '${EVIL}' }, env)).toEqual({
      url: 'postgres://db:5432/x',
      port: 5432,
      other: 'fallback',
      evil: 'x\n  injected: true',
    });
  });

  it('treats an empty variable like an unset one', () => {
    expect(interpolate('${EMPTY:-d}', { EMPTY: '' })).toBe('d');
  });
});
