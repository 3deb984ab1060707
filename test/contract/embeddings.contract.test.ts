/*
 * One contract for the embeddings port: the offline embedder, the OpenAI-compatible
 * adapter against a local server that speaks the /v1/embeddings protocol, and the ONNX
 * embedder with the model `npm run model:fetch` puts in EMBEDDINGS_MODEL_DIR (skipped when
 * it is not there; .ci/run fetches it), in process and as the server runs it, on worker
 * threads that share a batch.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../src/platform/cache/memory-cache.js';
import type { EmbeddingsPort } from '../../src/platform/embeddings/embeddings-port.js';
import { createOfflineEmbedder } from '../../src/platform/embeddings/offline-embedder.js';
import { createOnnxEmbedder } from '../../src/platform/embeddings/onnx-embedder.js';
import { createOpenAiEmbedder } from '../../src/platform/embeddings/openai-embedder.js';
import { createWorkerOnnxEmbedder } from '../../src/platform/embeddings/worker-onnx-embedder.js';
import { ONNX_MODEL_DIR, onnxModelMissing } from '../helpers/onnx-model.js';

const onnxSkip = onnxModelMissing ? ` (skipped: ${onnxModelMissing})` : '';

/** An OpenAI-compatible endpoint whose vectors come from the offline embedder (un-normalized ×3). */
class EmbeddingsServer {
  readonly requests: { inputs: string[]; authorization?: string }[] = [];
  failNext: { status: number; retryAfter?: string }[] = [];
  private server?: Server;
  private readonly model = createOfflineEmbedder(64);
  url = '';

  async start() {
    this.server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const { input, model } = JSON.parse(body) as { input: string[]; model: string };
      this.requests.push({ inputs: input, authorization: req.headers.authorization });
      const failure = this.failNext.shift();
      if (failure) {
        res.writeHead(failure.status, failure.retryAfter ? { 'retry-after': failure.retryAfter } : {}).end('{"error":{"message":"slow down"}}');
        return;
      }
      const vectors = await this.model.embed(input);
      const data = vectors.map((v, index) => ({ object: 'embedding', index, embedding: Array.from(v, (x) => x * 3) })).reverse();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', model, data }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  stop() {
    return new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const endpoint = new EmbeddingsServer();
beforeAll(() => endpoint.start());
afterAll(() => endpoint.stop());

const openai = (overrides: Partial<Parameters<typeof createOpenAiEmbedder>[0]> = {}) =>
  createOpenAiEmbedder({ url: endpoint.url, model: 'test-model', apiKey: 'sk-test', batchSize: 4, cache: createMemoryCache({ maxSize: 100, ttlSeconds: 60 }), cacheTtlSeconds: 60, ...overrides });

const onnx = (batchSize?: number) => createOnnxEmbedder({ modelDir: ONNX_MODEL_DIR, threads: 1, batchSize });
const workers: { close(): Promise<void> }[] = [];
afterAll(() => Promise.all(workers.map((w) => w.close())));
const onnxOnWorkers = (count: number) => {
  const port = createWorkerOnnxEmbedder({ modelDir: ONNX_MODEL_DIR, workers: count });
  workers.push(port);
  return port;
};

const ports: { name: string; create: () => EmbeddingsPort | Promise<EmbeddingsPort>; skip?: boolean }[] = [
  { name: 'offline', create: () => createOfflineEmbedder() },
  { name: 'openai-compatible', create: () => openai() },
  { name: `onnx${onnxSkip}`, create: () => onnx(), skip: onnxModelMissing !== undefined },
  { name: `onnx on 2 worker threads${onnxSkip}`, create: () => onnxOnWorkers(2), skip: onnxModelMissing !== undefined },
];

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * b[i]!, 0);

for (const { name, create, skip } of ports) {
  describe.skipIf(skip)(`embeddings port contract on ${name}`, () => {
    it('returns one unit-length vector per text, in order, of the advertised dimension', async () => {
      const port = await create();
      const vectors = await port.embed(['granite weathers slowly', 'an unrelated sentence about taxes', 'granite weathering']);
      expect(vectors).toHaveLength(3);
      const dimensions = await port.dimensions();
      for (const v of vectors) {
        expect(v).toHaveLength(dimensions);
        expect(Math.abs(Math.hypot(...v) - 1)).toBeLessThan(1e-5);
      }
      expect(cosine(vectors[0]!, vectors[2]!)).toBeGreaterThan(cosine(vectors[0]!, vectors[1]!));
    });

    it('is deterministic', async () => {
      const port = await create();
      const [a] = await port.embed(['same text']);
      const [b] = await (await create()).embed(['same text']);
      expect(Array.from(a!)).toEqual(Array.from(b!));
    });

    it('gives a text the same vector in a batch as alone', async () => {
      const port = await create();
      const texts = ['short', 'a somewhat longer sentence about licences and their terms', 'x', 'The licensee may redistribute the work.', 'two words', 'granite', 'The quick brown fox jumps over the lazy dog near the river bank.'];
      const batched = await port.embed(texts);
      for (const [i, text] of texts.entries()) {
        const [alone] = await port.embed([text]);
        expect(cosine(alone!, batched[i]!)).toBeGreaterThan(1 - 1e-5);
      }
    });
  });
}

describe('offline embedder', () => {
  // Collections record the embedder's id and are refused to any other, so vectors under one
  // id must never change: stored chunks would silently stop matching their queries. A change
  // to the features, weights or prior needs a new VERSION in offline-embedder.ts, and these
  // digests with it.
  it('gives the vectors its id was released with', async () => {
    const port = createOfflineEmbedder();
    const texts = ['Permission is hereby granted, free of charge, to any person obtaining a copy of this software', 'dd - convert and copy a file', 'Ünïcode wörds, numbers 2026 and a-hyphenated_term'];
    const digest = (vectors: Float32Array[]) => createHash('sha256').update(Buffer.concat(vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)))).digest('hex');
    expect(port.id).toBe('offline-hash-768@2');
    expect(digest(await port.embed(texts))).toBe('1e84c2d4430ca186967ecbe277ca4bad3bec6fd19e367b05b840cbf55a9a1aba');
    expect(digest(texts.map((text) => port.embedQuery(text, (term) => 1 / (1 + term.length))))).toBe('9867e49b8d59011a2dead0ade637723341791ace100fbd6aa35510217c551abb');
  });
});

describe.skipIf(onnxModelMissing !== undefined)(`ONNX embedder (all-MiniLM-L6-v2)${onnxSkip}`, () => {
  it('places a paraphrase that shares no word closer than an unrelated sentence', async () => {
    const port = await onnx();
    expect(port.id).toMatch(/^onnx:all-MiniLM-L6-v2(-q)?@1$/);
    expect(await port.dimensions()).toBe(384);
    const [text, paraphrase, unrelated] = await port.embed(['You may not sell copies of this program.', 'Commercial redistribution of the software is prohibited.', 'The recipe needs two eggs and a cup of flour.']);
    expect(cosine(text!, paraphrase!)).toBeGreaterThan(cosine(text!, unrelated!) + 0.2);
  });

  it("truncates a text to the model's 256 tokens", async () => {
    const port = await onnx();
    const long = Array.from({ length: 300 }, (_, i) => `word${i % 7}`).join(' ');
    const [a, b] = await port.embed([long, `${long} and an ending that lies beyond the limit`]);
    expect(Array.from(a!)).toEqual(Array.from(b!));
    const [shorter] = await port.embed([Array.from({ length: 60 }, (_, i) => `word${i % 7}`).join(' ')]);
    expect(Array.from(shorter!)).not.toEqual(Array.from(a!));
  });

  it('embeds queries as documents unless model.json names a query prefix', async () => {
    const port = await onnx();
    expect(port.embedQueries).toBeUndefined();
    // The same model with bge's kind of card: a query gets the prefix, a document does not.
    const dir = mkdtempSync(join(tmpdir(), 'onnx-prefix-'));
    try {
      for (const file of ['model.onnx', 'tokenizer.json']) symlinkSync(join(ONNX_MODEL_DIR, file), join(dir, file));
      const card = JSON.parse(readFileSync(join(ONNX_MODEL_DIR, 'model.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...card, queryPrefix: 'query: ' }));
      const prefixed = await createOnnxEmbedder({ modelDir: dir, threads: 1 });
      const [query] = await prefixed.embedQueries!(['copy a file']);
      const [withPrefix, document] = await port.embed(['query: copy a file', 'copy a file']);
      expect(cosine(query!, withPrefix!)).toBeGreaterThan(1 - 1e-5);
      expect(cosine(query!, document!)).toBeLessThan(1 - 1e-3);
      const [asDocument] = await prefixed.embed(['copy a file']);
      expect(cosine(asDocument!, document!)).toBeGreaterThan(1 - 1e-5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('on worker threads, shares a batch among them and gives each text the vector it gets in process', async () => {
    const texts = ['one', 'a second, longer text about licences', 'three', 'the fourth text', 'five'];
    const inProcess = await (await onnx()).embed(texts);
    for (const count of [2, 3]) {
      const pooled = await onnxOnWorkers(count).embed(texts);
      expect(pooled.map((v) => Array.from(v))).toEqual(inProcess.map((v) => Array.from(v)));
    }
  });

  it('stops between batches when the signal aborts', async () => {
    const port = await onnx(2);
    const controller = new AbortController();
    controller.abort(new Error('cancelled by the test'));
    await expect(port.embed(['one', 'two', 'three'], controller.signal)).rejects.toThrow('cancelled by the test');
  });
});

describe('ONNX embedder without its model', () => {
  it('says to run npm run model:fetch', async () => {
    await expect(createOnnxEmbedder({ modelDir: '/nonexistent/model' })).rejects.toThrow(/no embedding model in \/nonexistent\/model.*npm run model:fetch/);
  });
});

describe('OpenAI-compatible adapter', () => {
  it('batches, authenticates and caches', async () => {
    endpoint.requests.length = 0;
    const port = openai();
    const texts = Array.from({ length: 10 }, (_, i) => `text number ${i}`);
    await port.embed(texts);
    expect(endpoint.requests.map((r) => r.inputs.length)).toEqual([4, 4, 2]);
    expect(endpoint.requests[0]!.authorization).toBe('Bearer sk-test');
    await port.embed([...texts, 'one new text']);
    expect(endpoint.requests).toHaveLength(4);
    expect(endpoint.requests[3]!.inputs).toEqual(['one new text']);
  });

  it('retries 429 and 5xx, honouring Retry-After', async () => {
    endpoint.requests.length = 0;
    endpoint.failNext = [{ status: 429, retryAfter: '1' }, { status: 503 }];
    const started = Date.now();
    const [vector] = await openai().embed(['retry me']);
    expect(vector).toHaveLength(64);
    expect(endpoint.requests).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it('fails with the status and a hint when the key is refused, without retrying', async () => {
    endpoint.requests.length = 0;
    endpoint.failNext = [{ status: 401 }];
    await expect(openai().embed(['x'])).rejects.toThrow(/answered 401.*EMBEDDINGS_API_KEY/);
    expect(endpoint.requests).toHaveLength(1);
  });

  it('says when the endpoint is unreachable', async () => {
    await expect(openai({ url: 'http://127.0.0.1:9', maxAttempts: 1 }).embed(['x'])).rejects.toThrow(/unreachable/);
  });
});
