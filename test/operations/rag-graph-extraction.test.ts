/*
 * Model extraction through an OpenAI-compatible chat endpoint (GRAPH_EXTRACTION_URL): a
 * real local HTTP server answers like one. Its entities reach the graph; a chunk it answers
 * badly for is extracted by the heuristic extractor instead, with a warning.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ragIngest, ragQuery } from '../../tools/rag.js';
import { ADMIN, startTestApp, type TestApp } from '../helpers/backends.js';

/** Lower-case product names the heuristic extractor cannot see; only the "model" knows them. */
const KNOWN = ['widget', 'gizmo', 'sprocket'];

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

describe('graph extraction through an OpenAI-compatible chat endpoint', () => {
  let server: Server;
  let t: TestApp;
  const requests: { path: string; authorization?: string; model: string; system: string }[] = [];
  const warnings: { reason?: string; msg: string }[] = [];

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      const request = JSON.parse(await body(req)) as { model: string; messages: { role: string; content: string }[] };
      requests.push({ path: req.url!, authorization: req.headers.authorization, model: request.model, system: request.messages[0]!.content });
      const text = request.messages[1]!.content.split('"""')[1] ?? '';
      const found = KNOWN.filter((name) => text.includes(name));
      const content = text.includes('garbled')
        ? 'Sorry, I do not know.'
        : `\`\`\`json\n${JSON.stringify({
            entities: found.map((name) => ({ name, type: 'product' })),
            relations: found.length > 1 ? [{ source: found[0], target: found[1], label: 'fits' }] : [],
          })}\n\`\`\``;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const logger = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    t = await startTestApp(
      { name: 'pglite' },
      { logger, env: { GRAPH_EXTRACTION_URL: `http://127.0.0.1:${port}`, GRAPH_EXTRACTION_MODEL: 'test-model', GRAPH_EXTRACTION_API_KEY: 'secret-key' } },
    );
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('builds the graph from the model’s entities and relations', async () => {
    const result = await t.app.invoke(
      ragIngest,
      {
        collection: 'parts',
        documents: [
          { id: 'w', text: 'every widget needs a gizmo to turn.' },
          { id: 's', text: 'a sprocket is sold separately.' },
        ],
      },
      ADMIN,
    );
    expect(result).toMatchObject({ ingested: 2, errors: [] });
    expect(requests).toHaveLength(2);
    expect(requests[0]).toMatchObject({ path: '/v1/chat/completions', authorization: 'Bearer secret-key', model: 'test-model', system: expect.stringContaining('JSON') });

    const { hits, graph } = await t.app.invoke(ragQuery, { collection: 'parts', query: 'what does a gizmo fit', mode: 'graph' }, ADMIN);
    expect(hits.map((h) => h.documentId)).toEqual(['w']);
    expect(graph!.paths).toEqual(['gizmo ←fits– widget']);
  });

  it('falls back to the heuristic extractor for a chunk the model answers badly, and says so in the log', async () => {
    const result = await t.app.invoke(ragIngest, { collection: 'parts', documents: [{ id: 'g', text: 'The garbled answer concerns the Acme Sprocket Works.' }] }, ADMIN);
    expect(result).toMatchObject({ ingested: 1, errors: [] });
    expect(warnings).toEqual([expect.objectContaining({ extractor: 'chat:test-model', reason: 'no JSON object in the answer' })]);
    const { hits } = await t.app.invoke(ragQuery, { collection: 'parts', query: 'Acme Sprocket Works', mode: 'graph' }, ADMIN);
    expect(hits[0]!.documentId).toBe('g');
  });
});
