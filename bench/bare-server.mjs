/*
 * Baseline: the bare SDK on the same serving shape as mcp-level3's HTTP mode, with
 * nothing else. createMcpHandler(factory) (stateless: one McpServer per request) wrapped
 * by toNodeHandler in a plain node:http server; one tool, `echo`, that returns its
 * arguments as text. /health answers 200 so the benchmark knows it is up.
 *
 *   node bench/bare-server.mjs --port P
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });

const echoInput = z.object({ name: z.string(), version: z.string() }).passthrough();

const factory = () => {
  const server = new McpServer({ name: 'bare-baseline', version: '0.0.0' }, { capabilities: { tools: {} } });
  server.registerTool('echo', { description: 'Returns its arguments.', inputSchema: echoInput }, async (args) => ({
    content: [{ type: 'text', text: JSON.stringify(args) }],
  }));
  return server;
};

const mcp = createMcpHandler(factory);
const serveMcp = toNodeHandler(mcp);

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/mcp') return void serveMcp(req, res);
  if (path === '/health' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end('{"status":"ok"}');
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => {
  process.stderr.write(`bare-server listening on http://${values.host}:${server.address().port}/mcp\n`);
});

const stop = () => {
  server.close();
  server.closeIdleConnections();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
