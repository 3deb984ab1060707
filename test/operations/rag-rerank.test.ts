/*
 * Reranking in rag_query (engines/rag/rerank.ts) against a local rerank endpoint that scores
 * by word overlap (helpers/rerank-server.ts): off by default, hybrid's order follows the
 * reranker in both request shapes, and a reranker that fails or hangs leaves the fused order
 * with a warning, logged once.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyOperation } from '../../src/surface/operation.js';
import { ragIngest, ragQuery } from '../../tools/rag.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';
import { overlapScore, useRerankServer } from '../helpers/rerank-server.js';

// BM25 favours the short document repeating the rarer query word; the overlap score favours
// the long one holding both query words once.
const DOCS = [
  { id: 'repeat', text: 'Copyleft copyleft copyleft copyleft.' },
  {
    id: 'both-words',
    text: 'This long notice says that the program comes with a copyleft obligation and with no warranty, and then it goes on about distribution terms, notices, attributions, contributors, trademarks and patents at some length.',
  },
  { id: 'warranty-1', text: 'The program is distributed without warranty of any kind.' },
  { id: 'warranty-2', text: 'No warranty is given for fitness for a particular purpose.' },
  { id: 'warranty-3', text: 'Warranty disclaimers appear in most licenses.' },
  { id: 'unrelated', text: 'Granite weathers slowly under rain and frost.' },
];
const QUERY = 'copyleft warranty';

const expectedOrder = (fused: { documentId: string; text: string }[]) =>
  fused
    .map((h, i) => ({ id: h.documentId, score: overlapScore(QUERY, h.text), i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .map((h) => h.id);

function capturingLogger() {
  const lines: { level: number; msg: string; reranker?: string }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const server = useRerankServer();

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`rag_query reranking on ${title(backend)}`, () => {
    const apps: TestApp[] = [];
    const start = async (env: Record<string, string>, logger?: pino.Logger) => {
      const t = await startTestApp(backend, { env, ...(logger ? { logger } : {}) });
      apps.push(t);
      await t.app.invoke(ragIngest, { collection: 'licenses', documents: DOCS }, ADMIN);
      return <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);
    };
    afterAll(async () => Promise.all(apps.map((t) => t.close())));

    it('is off by default: no request and no rerank field', async () => {
      const call = await start({});
      const result = await call(ragQuery, { collection: 'licenses', query: QUERY, topK: 6 });
      expect(result.rerank).toBeUndefined();
      expect(result.hits.length).toBeGreaterThan(0);
      expect(server.requests).toEqual([]);
    });

    describe('with text-embeddings-inference (RERANK_URL)', () => {
      const log = capturingLogger();
      let call: Awaited<ReturnType<typeof start>>;
      beforeAll(async () => {
        call = await start({ RERANK_URL: server.url, RERANK_TIMEOUT_MS: '500' }, log.logger);
      });

      it('orders hybrid hits by the reranker, with its scores, and says which reranker', async () => {
        const fused = await call(ragQuery, { collection: 'licenses', query: QUERY, topK: 6, rerank: false });
        expect(fused.rerank).toBeUndefined();
        expect(server.requests).toEqual([]);
        const reranked = await call(ragQuery, { collection: 'licenses', query: QUERY, topK: 6 });
        expect(reranked.rerank).toEqual({ reranker: 'tei' });
        expect(server.requests).toHaveLength(1);
        expect(server.requests[0]).toMatchObject({ path: '/rerank', body: { query: QUERY } });
        // Every fused candidate went (the collection is smaller than RERANK_TOP_N).
        expect((server.requests[0]!.body.texts as string[]).length).toBe(fused.hits.length);
        const order = reranked.hits.map((h) => h.documentId);
        expect(order).toEqual(expectedOrder(fused.hits));
        expect(fused.hits[0]!.documentId).toBe('repeat');
        expect(order[0]).toBe('both-words');
        expect(reranked.hits.map((h) => h.score)).toEqual(reranked.hits.map((h) => overlapScore(QUERY, h.text)));
        // The retrievers' ranks stay, for the agent to see where a hit came from.
        expect(reranked.hits[0]!.retrievers).toEqual(fused.hits.find((h) => h.documentId === 'both-words')!.retrievers);
      });

      it('leaves the single-retriever modes alone', async () => {
        await call(ragQuery, { collection: 'licenses', query: QUERY, topK: 3, mode: 'fulltext' });
        await call(ragQuery, { collection: 'licenses', query: QUERY, topK: 3, mode: 'vector' });
        expect(server.requests).toEqual([]);
      });

      it('answers in fused order with a warning when the reranker fails or hangs, logs it once, and recovers', async () => {
        const fused = await call(ragQuery, { collection: 'licenses', query: `${QUERY} again`, topK: 6, rerank: false });
        server.mode = 'fail';
        const failed = await call(ragQuery, { collection: 'licenses', query: `${QUERY} again`, topK: 6 });
        expect(failed.hits.map((h) => h.documentId)).toEqual(fused.hits.map((h) => h.documentId));
        expect(failed.hits.map((h) => h.score)).toEqual(fused.hits.map((h) => h.score));
        expect(failed.rerank).toEqual({ reranker: 'tei', warning: expect.stringMatching(/^reranker tei failed: .*answered 500.*; hits are in fused order$/) });
        expect(failed.rerank!.warning).not.toContain(server.url);

        server.mode = 'hang';
        const started = performance.now();
        const hung = await call(ragQuery, { collection: 'licenses', query: `${QUERY} again`, topK: 6 });
        expect(performance.now() - started).toBeLessThan(3000);
        expect(hung.hits.map((h) => h.documentId)).toEqual(fused.hits.map((h) => h.documentId));
        expect(hung.rerank).toEqual({ reranker: 'tei', warning: 'reranker tei did not answer within 500 ms; hits are in fused order' });

        const warnings = log.lines.filter((l) => l.level === 40 && l.reranker === 'tei');
        expect(warnings).toHaveLength(1);
        expect(warnings[0]!.msg).toMatch(/reranker failed; hybrid queries answer in fused order until it recovers/);

        // A fallback is not cached: the same query is reranked once the endpoint is back.
        server.mode = 'ok';
        const back = await call(ragQuery, { collection: 'licenses', query: `${QUERY} again`, topK: 6 });
        expect(back.rerank).toEqual({ reranker: 'tei' });
        expect(back.hits[0]!.documentId).toBe('both-words');
        expect(log.lines.filter((l) => l.msg === 'reranker answers again')).toHaveLength(1);
      });
    });

    it('speaks the Cohere shape when a model is named (RERANK_MODEL, RERANK_API_KEY)', async () => {
      const call = await start({ RERANK_URL: `${server.url}/v1`, RERANK_MODEL: 'overlap-1', RERANK_API_KEY: 'rk-test', RERANK_TOP_N: '3' });
      const fused = await call(ragQuery, { collection: 'licenses', query: QUERY, topK: 2, rerank: false });
      const result = await call(ragQuery, { collection: 'licenses', query: QUERY, topK: 2 });
      expect(result.rerank).toEqual({ reranker: 'cohere:overlap-1' });
      expect(server.requests).toHaveLength(1);
      const request = server.requests[0]!;
      expect(request).toMatchObject({ path: '/v1/rerank', authorization: 'Bearer rk-test', body: { model: 'overlap-1', query: QUERY } });
      // RERANK_TOP_N candidates went, the best of them came back.
      expect(request.body.documents).toHaveLength(3);
      expect(result.hits).toHaveLength(2);
      expect(fused.hits[0]!.documentId).toBe('repeat');
      expect(result.hits[0]!.documentId).toBe('both-words');
    });
  });
}
