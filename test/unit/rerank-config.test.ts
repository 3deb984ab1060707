/*
 * Reranker configuration: RAG_engine.settings.rerank from the shipped engine_map.yaml and the
 * RERANK_* variables, off by default, and clear errors for what cannot work.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { App, MEMORY_DATA_DIR } from '../../src/app.js';
import { loadConfig } from '../../src/config/load-config.js';
import { chooseReranker } from '../../src/platform/rerank/rerank-choice.js';
import { configProblems } from '../helpers/failures.js';

const settings = (env: Record<string, string>) => loadConfig({ configDir: 'config', explicit: true, env }).engineMap.engine_map.RAG_engine.settings.rerank;
const choose = (env: Record<string, string>) => chooseReranker(settings(env), env);

const problems = configProblems;

describe('reranker configuration', () => {
  it('is off by default', () => {
    expect(settings({})).toEqual({ candidates: 50, timeoutMs: 5000 });
    expect(choose({})).toBeUndefined();
  });

  it('speaks TEI to a URL alone, Cohere once a model is named, and what RERANK_API says', () => {
    expect(choose({ RERANK_URL: 'http://tei:8080' })).toEqual({ url: 'http://tei:8080', api: 'tei', model: undefined, apiKey: undefined, candidates: 50, timeoutMs: 5000 });
    expect(choose({ RERANK_URL: 'https://api.cohere.com/v2', RERANK_MODEL: 'rerank-v3.5', RERANK_API_KEY: 'k', RERANK_TOP_N: '20', RERANK_TIMEOUT_MS: '2000' })).toEqual({
      url: 'https://api.cohere.com/v2',
      api: 'cohere',
      model: 'rerank-v3.5',
      apiKey: 'k',
      candidates: 20,
      timeoutMs: 2000,
    });
    expect(choose({ RERANK_URL: 'http://tei:8080', RERANK_MODEL: 'BAAI/bge-reranker-base', RERANK_API: 'tei' })).toMatchObject({ api: 'tei', model: 'BAAI/bge-reranker-base' });
    // A model name YAML would read as a number stays a string.
    expect(choose({ RERANK_URL: 'http://infinity:7997', RERANK_MODEL: '2' })).toMatchObject({ api: 'cohere', model: '2' });
  });

  it('names the key, the variable and the expectation of a bad value', () => {
    const at = 'engine_map.RAG_engine.settings.rerank';
    expect(problems(() => settings({ RERANK_URL: 'tei:8080' }))).toEqual([expect.stringContaining(`${at}.url: expected an http(s) URL such as "http://localhost:8080" (RERANK_URL)`)]);
    expect(problems(() => settings({ RERANK_URL: 'ftp://tei/rerank' }))).toEqual([expect.stringContaining(`${at}.url: expected an http(s) URL`)]);
    expect(problems(() => settings({ RERANK_API: 'openai' }))).toEqual([expect.stringContaining(`${at}.api: expected one of "tei", "cohere"`)]);
    expect(problems(() => settings({ RERANK_TOP_N: '0' }))).toEqual([expect.stringContaining(`${at}.candidates: expected a positive integer`)]);
    expect(problems(() => settings({ RERANK_TOP_N: '5000' }))).toEqual([expect.stringContaining(`${at}.candidates: at most 1000`)]);
    expect(problems(() => settings({ RERANK_TIMEOUT_MS: 'soon' }))).toEqual([expect.stringContaining(`${at}.timeoutMs: expected a positive integer`)]);
  });

  it('stops start-up when a reranker is half configured, without an endpoint', () => {
    expect(problems(() => choose({ RERANK_MODEL: 'rerank-v3.5', RERANK_API_KEY: 'k' }))).toEqual([
      'RERANK_MODEL (rerank.model), RERANK_API_KEY are set but RERANK_URL (RAG_engine.settings.rerank.url) is not: reranking needs the endpoint, e.g. RERANK_URL=http://localhost:8080 for text-embeddings-inference; or unset them to leave reranking off',
    ]);
    expect(() => new App({ dataDir: MEMORY_DATA_DIR, logger: pino({ level: 'silent' }), env: { RERANK_API: 'tei' } })).toThrow(/RERANK_API \(rerank.api\) is set but RERANK_URL/);
  });
});
