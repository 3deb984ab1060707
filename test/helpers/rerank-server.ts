/*
 * A local rerank endpoint for tests, speaking both request shapes the HTTP reranker sends:
 * text-embeddings-inference at /rerank ({query, texts} → [{index, score}]) and Cohere's at
 * /v1/rerank and /v2/rerank ({model, query, documents} → {results: [{index, relevance_score}]}).
 * Its scores are real and deterministic: the share of the query's distinct words a text holds
 * (overlapScore). `mode` makes it fail with 500 or never answer.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const words = (text: string) => new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? []);

/** Share of the query's distinct words that occur in the text, 0..1. */
export function overlapScore(query: string, text: string): number {
  const q = words(query);
  const t = words(text);
  let shared = 0;
  for (const w of q) if (t.has(w)) shared++;
  return q.size === 0 ? 0 : shared / q.size;
}

export interface RerankRequest {
  path: string;
  body: Record<string, unknown>;
  authorization?: string;
}

export class RerankServer {
  readonly requests: RerankRequest[] = [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  url = '';
  private server?: Server;
  private readonly hanging = new Set<ServerResponse>();

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw || '{}') as Record<string, unknown>;
    const path = req.url ?? '';
    this.requests.push({ path, body, authorization: req.headers.authorization });
    if (this.mode === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (this.mode === 'fail') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"model crashed"}');
      return;
    }
    const query = String(body.query);
    if (path === '/rerank' && Array.isArray(body.texts)) {
      // TEI answers best first.
      const scored = (body.texts as string[]).map((text, index) => ({ index, score: overlapScore(query, text) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(scored.sort((a, b) => b.score - a.score)));
      return;
    }
    if (/^\/v[12]\/rerank$/.test(path) && Array.isArray(body.documents)) {
      const results = (body.documents as string[]).map((text, index) => ({ index, relevance_score: overlapScore(query, text) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'r1', results: results.sort((a, b) => b.relevance_score - a.relevance_score), meta: { billed_units: { search_units: 1 } } }));
      return;
    }
    res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `unexpected request to ${path}` }));
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** A server for the file's tests: started before them, reset to answer `ok` before each, stopped after. */
export function useRerankServer(): RerankServer {
  const server = new RerankServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());
  beforeEach(() => {
    server.mode = 'ok';
    server.requests.length = 0;
  });
  return server;
}
