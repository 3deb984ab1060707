/*
 * Governance, taxonomy and promotion over MCP as an agent uses them: tools, the
 * taxonomy://concepts resource, the promotion_review prompt, and the audit trail they leave.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningServer } from '../helpers/cli.js';

describe('governance, taxonomy and promotion over MCP', () => {
  let server: RunningServer;
  let client: Client;
  const tool = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args });
    if (result.isError) throw new Error(JSON.stringify(result.content));
    return result.structuredContent as Record<string, unknown>;
  };

  beforeAll(async () => {
    server = await startHttpServer(['--data-dir', 'memory://']);
    client = new Client({ name: 'governance-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  it('lists the tools, the concept resource template and the review prompt', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const name of ['governance_set_policy', 'governance_audit_verify', 'taxonomy_classify', 'promotion_request', 'promotion_rollback']) expect(names).toContain(name);
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toContain('taxonomy://concepts/{id}');
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('promotion_review');
  });

  it('reads a concept with its ancestors', async () => {
    const read = await client.readResource({ uri: 'taxonomy://concepts/Classifier' });
    const concept = JSON.parse((read.contents[0] as { text: string }).text) as { label: string; ancestors: string[] };
    expect(concept.label).toBe('classifier');
    expect(concept.ancestors).toEqual(['Model', 'Artifact']);
  });

  it('refuses an unknown declared class at publish, then promotes and reviews a request', async () => {
    const refused = await client.callTool({ name: 'registry_publish', arguments: { name: 'acme/churn', version: '1.0.0', content: 'w', labels: { taxonomy: 'clasifier' } } });
    expect(refused.isError).toBe(true);
    expect(JSON.stringify(refused.content)).toContain('did you mean \\"classifier\\"');
    await tool('registry_publish', { name: 'acme/churn', version: '1.0.0', content: 'w', labels: { taxonomy: 'classifier' } });
    expect(await tool('promotion_request', { name: 'acme/churn', version: '1.0.0', environment: 'dev', reason: 'nightly build' })).toMatchObject({ status: 'promoted' });
    const staging = await tool('promotion_request', { name: 'acme/churn', version: '1.0.0', environment: 'staging', reason: 'ready for staging' });
    expect(staging.status).toBe('pending_approval');

    const prompt = await client.getPrompt({ name: 'promotion_review', arguments: { requestId: staging.requestId as string } });
    const text = (prompt.messages[0]!.content as { text: string }).text;
    expect(text).toContain('acme/churn@1.0.0 to staging');
    expect(text).toContain('- order: passed');
    expect(text).toContain('promote 1.0.0 to dev');

    const self = await client.callTool({ name: 'promotion_approve', arguments: { requestId: staging.requestId } });
    expect(self.isError).toBe(true);
    expect(JSON.stringify(self.content)).toContain('four-eyes');
  });

  it('keeps an audit trail of the calls that verifies', async () => {
    const audit = await tool('governance_audit_query', { operation: 'promotion_approve' });
    expect(audit.records).toEqual([expect.objectContaining({ outcome: 'denied', errorCode: 'FORBIDDEN' })]);
    expect(await tool('governance_audit_verify', {})).toMatchObject({ ok: true });
  });
});
