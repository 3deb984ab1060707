/*
 * GraphRAG extraction through MCP sampling: a real client that declares sampling answers
 * the server's sampling/createMessage requests with its "model"; the entities it names
 * make the graph. Over stdio, as desktop clients connect.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv } from '../helpers/cli.js';

describe('graph extraction by the client’s model (MCP sampling)', () => {
  let client: Client;
  const prompts: { system?: string; text: string; maxTokens: number }[] = [];

  beforeAll(async () => {
    client = new Client({ name: 'sampling-e2e', version: '1.0.0' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      const content = request.params.messages[0]!.content as { type: string; text: string };
      prompts.push({ system: request.params.systemPrompt, text: content.text, maxTokens: request.params.maxTokens });
      const text = content.text.split('"""')[1] ?? '';
      const entities = ['basalt', 'granite'].filter((name) => text.includes(name)).map((name) => ({ name, type: 'rock' }));
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: JSON.stringify({ entities, relations: [] }) } };
    });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, '--data-dir', 'memory://'], env: cleanEnv() as Record<string, string>, stderr: 'pipe' }));
  });
  afterAll(async () => client?.close());

  it('asks the client’s model for each chunk and builds the graph from its answers', async () => {
    const ingest = await client.callTool({
      name: 'rag_ingest',
      arguments: { collection: 'rocks', documents: [{ id: 'b', text: 'basalt cools fast.' }, { id: 'g', text: 'granite cools slowly.' }] },
    });
    expect(ingest.structuredContent).toMatchObject({ ingested: 2, errors: [] });
    expect(prompts).toHaveLength(2);
    expect(prompts[0]!.system).toContain('JSON');
    expect(prompts[0]!.maxTokens).toBeGreaterThan(0);

    const result = await client.callTool({ name: 'rag_query', arguments: { collection: 'rocks', query: 'granite', mode: 'graph' } });
    const { hits, graph } = result.structuredContent as { hits: { documentId: string }[]; graph: { entities: string[] } };
    expect(hits.map((h) => h.documentId)).toEqual(['g']);
    expect(graph.entities[0]).toBe('granite');
  });

  it('serves the communities resource: none while the graph has no relations', async () => {
    const read = await client.readResource({ uri: 'rag://collections/rocks/communities' });
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toEqual({ communities: [] });
  });
});
