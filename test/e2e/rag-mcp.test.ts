/*
 * RAG over MCP as an agent uses it: ingest with progress, retrieve, read resources, and the
 * rag_answer prompt.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningServer } from '../helpers/cli.js';

describe('RAG over MCP', () => {
  let server: RunningServer;
  let client: Client;

  beforeAll(async () => {
    server = await startHttpServer(['--data-dir', 'memory://']);
    client = new Client({ name: 'rag-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('ingests a batch with progress notifications', async () => {
    const progress: number[] = [];
    const documents = Array.from({ length: 5 }, (_, i) => ({
      id: `doc-${i}`,
      title: `Note ${i}`,
      text: `Note ${i} is about ${['granite', 'basalt', 'marble', 'slate', 'quartzite'][i]} and how it weathers.`,
      metadata: { kind: i % 2 ? 'odd' : 'even' },
    }));
    const result = await client.callTool(
      { name: 'rag_ingest', arguments: { collection: 'rocks', documents } },
      { onprogress: (p: { progress: number }) => progress.push(p.progress) },
    );
    expect(result.structuredContent).toMatchObject({ ingested: 5, skipped: 0, errors: [] });
    expect(progress).toEqual([1, 2, 3, 4, 5]);
  });

  it('retrieves cited passages', async () => {
    const result = await client.callTool({ name: 'rag_query', arguments: { collection: 'rocks', query: 'how does marble weather', topK: 2 } });
    const hits = (result.structuredContent as { hits: { documentId: string; citation: { title: string } }[] }).hits;
    expect(hits[0]).toMatchObject({ documentId: 'doc-2', citation: { title: 'Note 2' } });
  });

  it('serves collections and documents as resources', async () => {
    const collection = await client.readResource({ uri: 'rag://collections/rocks' });
    expect(JSON.parse((collection.contents[0] as { text: string }).text)).toMatchObject({ name: 'rocks', documents: 5 });
    const doc = await client.readResource({ uri: 'rag://documents/rocks/doc-3' });
    expect((doc.contents[0] as { text: string }).text).toContain('slate');
    const completion = await client.complete({ ref: { type: 'ref/resource', uri: 'rag://documents/{collection}/{id}' }, argument: { name: 'id', value: 'doc-' }, context: { arguments: { collection: 'rocks' } } });
    expect(completion.completion.values).toHaveLength(5);
  });

  it('builds a grounded answer prompt that cites [n]', async () => {
    const prompt = await client.getPrompt({ name: 'rag_answer', arguments: { collection: 'rocks', question: 'Which note is about basalt?' } });
    const text = (prompt.messages[0]!.content as { text: string }).text;
    expect(text).toContain('[1] Note 1');
    expect(text).toContain('Cite the passages you use as [n]');
    expect(text).toContain('Question: Which note is about basalt?');
  });
});
