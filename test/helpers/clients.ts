/*
 * The MCP clients the end-to-end suites drive the server with: the v1 SDK client, and the v2
 * client both in its default (2025-era) mode and pinned to the 2026-07-28 revision.
 */
import { Client as ClientV2, StreamableHTTPClientTransport as HttpV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as HttpV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CLI, cleanEnv } from './cli.js';

/** The calls the suites make, common to both SDK generations. */
export interface McpClient {
  listTools(): Promise<{ tools: { name: string; outputSchema?: unknown; annotations?: { readOnlyHint?: boolean } }[] }>;
  callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<{ isError?: boolean; structuredContent?: unknown; content?: unknown }>;
  listResources(): Promise<{ resources: { uri: string }[] }>;
  readResource(params: { uri: string }): Promise<{ contents: { uri: string; text?: string; blob?: string }[] }>;
  listPrompts(): Promise<{ prompts: { name: string }[] }>;
  getPrompt(params: { name: string; arguments?: Record<string, string> }): Promise<{ messages: { content: unknown }[] }>;
  complete(params: { ref: { type: 'ref/resource'; uri: string }; argument: { name: string; value: string } }): Promise<{ completion: { values: string[] } }>;
  getServerVersion(): { name: string; version: string } | undefined;
  close(): Promise<void>;
}

export type ClientKind = 'v1' | 'v2' | 'v2-modern';
export const CLIENT_KINDS: ClientKind[] = ['v1', 'v2', 'v2-modern'];

const info = { name: 'mcp-level3-tests', version: '1.0.0' };

function newClient(kind: ClientKind) {
  if (kind === 'v1') return new ClientV1(info);
  return new ClientV2(info, kind === 'v2-modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {});
}

export async function connectHttp(kind: ClientKind, url: string): Promise<McpClient> {
  const client = newClient(kind);
  const transport = kind === 'v1' ? new HttpV1(new URL(url)) : new HttpV2(new URL(url));
  await (client as ClientV1).connect(transport as HttpV1);
  return client as unknown as McpClient;
}

export async function connectStdio(kind: ClientKind, args: string[] = ['--data-dir', 'memory://'], env: Record<string, string> = {}): Promise<McpClient> {
  const client = newClient(kind);
  const params = { command: process.execPath, args: [CLI, ...args], env: cleanEnv(env) as Record<string, string>, stderr: 'pipe' as const };
  const transport = kind === 'v1' ? new StdioV1(params) : new StdioV2(params);
  await (client as ClientV1).connect(transport as StdioV1);
  return client as unknown as McpClient;
}
