import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { createInProcessPreparer, type PreparedContent, type PrepareInput } from '../../src/engines/rag/document-preparer.js';
import { HEURISTIC_EXTRACTOR } from '../../src/engines/rag/graph/heuristic-extractor.js';
import { createWorkerPreparer } from '../../src/engines/rag/worker-preparer.js';
import { createOfflineEmbedder } from '../../src/platform/embeddings/offline-embedder.js';

const chunking = { chunkSize: 1000, chunkOverlap: 150 };
const licenses: PrepareInput[] = readFileSync(new URL('../fixtures/licenses/corpus.jsonl', import.meta.url), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 24)
  .map((line) => JSON.parse(line) as { title: string; text: string })
  .map((doc) => ({ title: doc.title, text: doc.text, mimeType: 'text/plain' }));

/** Content in comparable form: vectors as plain numbers, each chunk's terms in their order. */
function comparable(content: PreparedContent | undefined) {
  return content && { ...content, embeddings: content.embeddings.map((e) => Array.from(e)), frequencies: content.frequencies.map((f) => [...f]) };
}

describe('document preparation on a worker thread', () => {
  const worker = createWorkerPreparer({ dimensions: 768, chunking });
  const inProcess = createInProcessPreparer(createOfflineEmbedder(768), chunking);
  afterAll(() => worker.close());

  it('gives exactly what in-process preparation gives: chunks, vectors, term counts and entities', async () => {
    // The first request after the worker starts is prepared in process: wait, so the worker answers.
    await worker.whenReady();
    const [threaded, local] = await Promise.all([worker.prepare(licenses, { extractor: HEURISTIC_EXTRACTOR }), inProcess.prepare(licenses, { extractor: HEURISTIC_EXTRACTOR })]);
    expect(threaded.every((p) => p.content !== undefined)).toBe(true);
    expect(threaded.reduce((sum, p) => sum + p.content!.chunks.length, 0)).toBeGreaterThan(licenses.length);
    expect(threaded.map((p) => comparable(p.content))).toEqual(local.map((p) => comparable(p.content)));
    expect(threaded[0]!.content!.extractions!.some((e) => e.entities.some((entity) => entity.name === 'Free Software Foundation'))).toBe(true);
  });

  it('leaves out entities when no extractor is asked for', async () => {
    const [prepared] = await worker.prepare([licenses[0]!], {});
    expect(prepared!.content!.chunks.length).toBeGreaterThan(0);
    expect(prepared!.content!.extractions).toBeUndefined();
  });

  it('reports a document without indexable text by itself and prepares the others', async () => {
    const outcomes = await worker.prepare([licenses[1]!, { text: '<p> </p><br/>', mimeType: 'text/html' }, licenses[2]!], {});
    expect(outcomes.map((o) => o.content !== undefined)).toEqual([true, false, true]);
    expect(outcomes[1]!.error).toMatchObject({ code: 'INVALID_INPUT', message: 'text: the document has no indexable text' });
  });

  it('answers a cancelled request at once, and serves the next one', async () => {
    const controller = new AbortController();
    const pending = worker.prepare(licenses, { signal: controller.signal });
    controller.abort();
    const outcomes = await pending;
    expect(outcomes).toHaveLength(licenses.length);
    expect(outcomes.every((o) => o.error?.name === 'AbortError')).toBe(true);
    const [next] = await worker.prepare([licenses[3]!], {});
    expect(next!.content!.chunks.length).toBeGreaterThan(0);
  });

  it('starts a new worker when used after close, preparing the first request in process', async () => {
    await worker.close();
    const [[first], [second]] = await Promise.all([worker.prepare([licenses[4]!], {}), worker.prepare([licenses[5]!], {})]);
    await worker.whenReady();
    const [again] = await worker.prepare([licenses[4]!], {});
    expect(first!.content!.chunks.length).toBeGreaterThan(0);
    expect(second!.content!.chunks.length).toBeGreaterThan(0);
    expect(comparable(again!.content)).toEqual(comparable(first!.content));
  });
});
