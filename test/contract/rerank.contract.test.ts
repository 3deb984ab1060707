/*
 * The rerank port's contract on the HTTP adapter, in both request shapes it speaks
 * (text-embeddings-inference and Cohere's), against a local endpoint that scores by word
 * overlap (helpers/rerank-server.ts).
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { createHttpReranker, rerankEndpoint } from '../../src/platform/rerank/http-reranker.js';
import type { RerankPort } from '../../src/platform/rerank/rerank-port.js';
import { overlapScore, useRerankServer } from '../helpers/rerank-server.js';

const server = useRerankServer();

const QUERY = 'granite weathers slowly';
const TEXTS = ['an unrelated sentence about taxes', 'granite weathers slowly in rain', 'granite is hard', ''];

const shapes: { name: string; create: () => RerankPort; id: string }[] = [
  { name: 'tei', create: () => createHttpReranker({ url: server.url, api: 'tei', timeoutMs: 2000 }), id: 'tei' },
  { name: 'cohere (/v1)', create: () => createHttpReranker({ url: `${server.url}/v1`, api: 'cohere', model: 'overlap-1', apiKey: 'rk-test', timeoutMs: 2000 }), id: 'cohere:overlap-1' },
  { name: 'cohere (full endpoint)', create: () => createHttpReranker({ url: `${server.url}/v2/rerank/`, api: 'cohere', model: 'overlap-1', timeoutMs: 2000 }), id: 'cohere:overlap-1' },
];

for (const { name, create, id } of shapes) {
  describe(`rerank port contract on ${name}`, () => {
    it('returns one score per text, in the order of the texts, whatever order the endpoint answers in', async () => {
      const port = create();
      expect(port.id).toBe(id);
      const scores = await port.rerank(QUERY, TEXTS);
      expect(scores).toEqual(TEXTS.map((t) => overlapScore(QUERY, t)));
      expect(scores[1]).toBeGreaterThan(scores[2]!);
      expect(scores[2]).toBeGreaterThan(scores[0]!);
    });

    it('asks nothing for no texts', async () => {
      expect(await create().rerank(QUERY, [])).toEqual([]);
      expect(server.requests).toEqual([]);
    });

    it('fails with UNAVAILABLE, naming the status, when the endpoint keeps answering 500', async () => {
      server.mode = 'fail';
      const error = await create()
        .rerank(QUERY, TEXTS)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe('UNAVAILABLE');
      expect((error as Error).message).toMatch(/answered 500/);
      expect(server.requests).toHaveLength(2); // one retry
    });
  });
}

describe('rerank HTTP adapter', () => {
  it('sends each shape its own fields, and the key as a bearer token', async () => {
    await createHttpReranker({ url: server.url, api: 'tei', timeoutMs: 2000 }).rerank(QUERY, ['a']);
    await createHttpReranker({ url: `${server.url}/v1`, api: 'cohere', model: 'overlap-1', apiKey: 'rk-test', timeoutMs: 2000 }).rerank(QUERY, ['a']);
    expect(server.requests).toEqual([
      { path: '/rerank', body: { query: QUERY, texts: ['a'], truncate: true }, authorization: undefined },
      { path: '/v1/rerank', body: { model: 'overlap-1', query: QUERY, documents: ['a'] }, authorization: 'Bearer rk-test' },
    ]);
  });

  it('refuses an answer of the other shape, saying which shape it expected', async () => {
    // TEI's request at Cohere's path: the local endpoint answers 422.
    const wrong = createHttpReranker({ url: `${server.url}/v1`, api: 'tei', timeoutMs: 2000 });
    await expect(wrong.rerank(QUERY, TEXTS)).rejects.toThrow(/answered 422/);
    // A 200 whose body is not a rerank answer.
    const { createServer } = await import('node:http');
    const odd = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"index":0,"relevance_score":0.5}]}'));
    await new Promise<void>((resolve) => odd.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(odd.address() as { port: number }).port}`;
      await expect(createHttpReranker({ url, api: 'cohere', timeoutMs: 2000 }).rerank(QUERY, TEXTS)).rejects.toThrow(/did not score all 4 texts \(expected \{results/);
      await expect(createHttpReranker({ url, api: 'tei', timeoutMs: 2000 }).rerank(QUERY, TEXTS)).rejects.toThrow(/expected \[\{index, score\}\] for RERANK_API=tei/);
    } finally {
      await new Promise<void>((resolve) => odd.close(() => resolve()));
    }
  });

  it('gives up when its signal aborts, even while the endpoint never answers', async () => {
    server.mode = 'hang';
    const started = performance.now();
    await expect(createHttpReranker({ url: server.url, api: 'tei', timeoutMs: 10_000 }).rerank(QUERY, TEXTS, AbortSignal.timeout(200))).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('appends /rerank to a base URL and keeps a full endpoint', () => {
    expect(rerankEndpoint('http://tei:8080')).toBe('http://tei:8080/rerank');
    expect(rerankEndpoint('https://api.jina.ai/v1/')).toBe('https://api.jina.ai/v1/rerank');
    expect(rerankEndpoint('https://api.cohere.com/v2/rerank')).toBe('https://api.cohere.com/v2/rerank');
  });
});
