/*
 * The HTTP surface of an App served in this process on a free loopback port, for tests that
 * need to look inside the server (its metrics registry, its log lines) while talking to it
 * over real HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { App } from '../../src/app.js';
import { createHttpApp } from '../../src/server/http-app.js';

export interface InProcessHttp {
  origin: string;
  url: string;
  close(): Promise<void>;
}

export async function serveInProcess(app: App): Promise<InProcessHttp> {
  const { handle, mcp } = createHttpApp(app, { allowedHosts: ['localhost', '127.0.0.1'], maxBodyBytes: 10 * 1024 * 1024 });
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: `${origin}/mcp`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await mcp.close().catch(() => undefined);
    },
  };
}

/** A v2 MCP client over streamable HTTP that sends these headers on every request. */
export async function connectWithHeaders(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'mcp-level3-tests', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}
