/*
 * The ONNX embedder through the rag operations, on each backend: a 384-dimension
 * collection next to a 768-dimension one in the same chunks table (each collection records
 * its embedder and dimension; PostgreSQL gets an HNSW index per collection, cast to its
 * dimension), vectors computed after the write, vector queries through that index, a server
 * reading each collection with the embedder that filled it, refusing one whose embedder it
 * does not run, and moving a collection to the model (reembed). Then the default: the local
 * model when it is installed, else the offline embedder, saying why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { ragCollections, ragIngest, ragQuery, ragReembed } from '../../tools/rag.js';
import { createPglite } from '../../src/platform/sql/pglite-adapter.js';
import { ADMIN, appBackends, dropSchema, silentLogger, title, uniqueId } from '../helpers/backends.js';
import { failure } from '../helpers/failures.js';
import { ONNX_EMBEDDER_ID, ONNX_MODEL_DIR, onnxModelMissing } from '../helpers/onnx-model.js';

const DOCS = [
  { id: 'sell', text: 'You may not sell copies of this program or charge a fee for it.' },
  { id: 'patent', text: 'Each contributor grants you a royalty-free patent licence for its contributions.' },
  { id: 'warranty', text: 'The work is provided as is, without warranty of any kind, express or implied.' },
  { id: 'recipe', text: 'Whisk two eggs with a cup of flour and bake for twenty minutes.' },
];
const ONNX_ENV = { EMBEDDINGS_PROVIDER: 'onnx', EMBEDDINGS_MODEL_DIR: ONNX_MODEL_DIR, EMBEDDINGS_THREADS: '1', RAG_EXACT_SCAN_MAX_CHUNKS: '0' };

for (const backend of appBackends()) {
  const skip = onnxModelMissing ?? backend.skip;
  describe.skipIf(skip)(`rag with the ONNX embedder on ${title({ name: backend.name, skip })}`, () => {
    const schema = backend.databaseUrl ? uniqueId('t') : undefined;
    const dataDir = mkdtempSync(join(tmpdir(), 'mcp-rag-onnx-'));
    const open = (env: Record<string, string>) =>
      new App({ dataDir, databaseUrl: backend.databaseUrl, redisUrl: backend.redisUrl, databaseSchema: schema, cacheKeyPrefix: `${uniqueId('test')}:`, logger: silentLogger, env });
    afterAll(async () => {
      if (schema && backend.databaseUrl) await dropSchema(backend.databaseUrl, schema);
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('keeps 384- and 768-dimension collections side by side, each queried with its own embedder', async () => {
      // Created here: the server would create it in a child process running the built
      // module, which a test of the sources should not depend on.
      if (!backend.databaseUrl) await (await createPglite(join(dataDir, 'pgdata'))).close();
      const hashed = open({ EMBEDDINGS_PROVIDER: 'offline', RAG_EXACT_SCAN_MAX_CHUNKS: '0' });
      try {
        await hashed.invoke(ragIngest, { collection: 'hashed', documents: DOCS }, ADMIN);
      } finally {
        await hashed.close();
      }

      const neural = open(ONNX_ENV);
      try {
        expect(await neural.invoke(ragIngest, { collection: 'neural', documents: DOCS }, ADMIN)).toMatchObject({ ingested: 4, errors: [] });
        // Searchable by full text at once; the vectors follow in the background.
        expect((await neural.invoke(ragQuery, { collection: 'neural', query: 'royalty-free patent', mode: 'fulltext', topK: 1 }, ADMIN)).hits[0]!.documentId).toBe('patent');
        await (await neural.services()).engines.rag.whenEmbedded('neural');
        const { embedder, collections } = await neural.invoke(ragCollections, {}, ADMIN);
        expect(embedder).toEqual({ id: ONNX_EMBEDDER_ID, semantic: true });
        expect(collections.map((c) => [c.name, c.embedder, c.vectorsPending])).toEqual([
          ['hashed', 'offline-hash-768@2', 0],
          ['neural', ONNX_EMBEDDER_ID, 0],
        ]);
        // No word in common with the document it should find.
        const { hits } = await neural.invoke(ragQuery, { collection: 'neural', query: 'commercial redistribution is forbidden', mode: 'vector', topK: 2 }, ADMIN);
        expect(hits[0]!.documentId).toBe('sell');
        // The collection the offline embedder filled is read with the offline embedder.
        const hashedHits = await neural.invoke(ragQuery, { collection: 'hashed', query: 'patent licence of contributors', mode: 'vector', topK: 1 }, ADMIN);
        expect(hashedHits.hits[0]!.documentId).toBe('patent');
      } finally {
        await neural.close();
      }

      const offline = open({ EMBEDDINGS_PROVIDER: 'offline', RAG_EXACT_SCAN_MAX_CHUNKS: '0' });
      try {
        const { hits } = await offline.invoke(ragQuery, { collection: 'hashed', query: 'patent licence of contributors', mode: 'vector', topK: 1 }, ADMIN);
        expect(hits[0]!.documentId).toBe('patent');
        const refused = await failure(offline.invoke(ragQuery, { collection: 'neural', query: 'patent', mode: 'vector' }, ADMIN));
        expect(refused.message).toMatch(new RegExp(`embedded with ${ONNX_EMBEDDER_ID}, which this server does not run.*EMBEDDINGS_PROVIDER.*mcp-level3 rag reembed neural`));
      } finally {
        await offline.close();
      }

      // reembed moves the hashed collection to the model; queries answer throughout.
      const moving = open(ONNX_ENV);
      try {
        const { engines } = await moving.services();
        expect(await moving.invoke(ragReembed, { collection: 'hashed' }, ADMIN)).toEqual({ started: true, embedder: ONNX_EMBEDDER_ID });
        // Moving (or, on a fast machine, already moved).
        const moved = (await moving.invoke(ragCollections, {}, ADMIN)).collections.find((c) => c.name === 'hashed')!;
        expect(moved.movingTo ?? moved.embedder).toBe(ONNX_EMBEDDER_ID);
        const during = await moving.invoke(ragQuery, { collection: 'hashed', query: 'patent licence of contributors', mode: 'hybrid', topK: 1 }, ADMIN);
        expect(during.hits[0]!.documentId).toBe('patent');
        await engines.rag.whenEmbedded('hashed');
        const { collections } = await moving.invoke(ragCollections, {}, ADMIN);
        expect(collections.find((c) => c.name === 'hashed')).toMatchObject({ embedder: ONNX_EMBEDDER_ID, vectorsPending: 0 });
        expect(collections.find((c) => c.name === 'hashed')!.movingTo).toBeUndefined();
        const { hits } = await moving.invoke(ragQuery, { collection: 'hashed', query: 'commercial redistribution is forbidden', mode: 'vector', topK: 1 }, ADMIN);
        expect(hits[0]!.documentId).toBe('sell');
        expect(await moving.invoke(ragReembed, { collection: 'hashed' }, ADMIN)).toEqual({ started: false, embedder: ONNX_EMBEDDER_ID });
      } finally {
        await moving.close();
      }
    });
  });
}

describe.skipIf(onnxModelMissing)(`the default embedder${onnxModelMissing ? ` (skipped: ${onnxModelMissing})` : ''}`, () => {
  it('is the local model when it is installed, and the offline embedder, saying why, when it is not', async () => {
    const installed = new App({ dataDir: 'memory://', logger: silentLogger, env: { EMBEDDINGS_MODEL_DIR: ONNX_MODEL_DIR } });
    try {
      expect((await installed.invoke(ragCollections, {}, ADMIN)).embedder).toEqual({ id: ONNX_EMBEDDER_ID, semantic: true });
    } finally {
      await installed.close();
    }
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
    const missing = new App({ dataDir: 'memory://', logger, env: { EMBEDDINGS_MODEL_DIR: '/nonexistent/minilm' } });
    try {
      const { embedder } = await missing.invoke(ragCollections, {}, ADMIN);
      expect(embedder).toMatchObject({ id: 'offline-hash-768@2', semantic: false });
      expect(embedder.fallback).toMatch(/no embedding model in \/nonexistent\/minilm.*npm run model:fetch/);
      await missing.invoke(ragIngest, { collection: 'plain', documents: DOCS }, ADMIN);
      expect(warnings.filter((line) => line.includes('offline hashed embedder'))).toHaveLength(1);
    } finally {
      await missing.close();
    }
  });
});

describe('choosing the embedder', () => {
  const problems = (env: Record<string, string>) => {
    try {
      new App({ dataDir: 'memory://', logger: silentLogger, env });
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected the configuration to be refused');
  };

  it('refuses EMBEDDINGS_PROVIDER=onnx without a model, saying how to get one', () => {
    expect(problems({ EMBEDDINGS_PROVIDER: 'onnx', EMBEDDINGS_MODEL_DIR: '/nonexistent/minilm' })).toMatch(/EMBEDDINGS_PROVIDER=onnx: no embedding model in \/nonexistent\/minilm.*npm run model:fetch/);
  });

  it('names the providers and the variables that are wrong', () => {
    expect(problems({ EMBEDDINGS_PROVIDER: 'bert' })).toMatch(/EMBEDDINGS_PROVIDER: expected offline, openai or onnx.*got "bert"/);
    expect(problems({ EMBEDDINGS_PROVIDER: 'openai' })).toMatch(/needs EMBEDDINGS_URL/);
    expect(problems({ EMBEDDINGS_PROVIDER: 'onnx', EMBEDDINGS_THREADS: 'two' })).toMatch(/EMBEDDINGS_THREADS: expected a positive integer, got "two"/);
  });
});
