/*
 * The built server over stdio, as Claude Desktop, IDE agents and the Inspector run it.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_KINDS, connectStdio, type McpClient } from '../helpers/clients.js';
import { CLI, cleanEnv, runCli, stopProcess } from '../helpers/cli.js';
import { sleep } from '../helpers/timing.js';

for (const kind of CLIENT_KINDS) {
  describe(`stdio with the ${kind} client`, () => {
    let client: McpClient;
    beforeAll(async () => {
      client = await connectStdio(kind);
    });
    afterAll(async () => client?.close());

    it('identifies itself and lists the tools', async () => {
      expect(client.getServerVersion()?.name).toBe('mcp-level3');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('registry_publish');
    });

    it('runs a validate-then-publish flow end to end', async () => {
      const schema = await client.callTool({
        name: 'validation_register_schema',
        arguments: { id: 'card', mediaType: 'application/vnd.card+json', schema: { type: 'object', required: ['title'], properties: { title: { type: 'string' } } } },
      });
      expect(schema.isError).toBeFalsy();
      const refused = await client.callTool({ name: 'registry_publish', arguments: { name: 'cards/one', version: '1.0.0', mediaType: 'application/vnd.card+json', content: '{"titel": "typo"}' } });
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toMatch(/\/title: is required.*\/titel: is not declared/);
      const accepted = await client.callTool({ name: 'registry_publish', arguments: { name: 'cards/one', version: '1.0.0', mediaType: 'application/vnd.card+json', content: '{"title": "ok"}' } });
      expect(accepted.structuredContent).toMatchObject({ created: true });
      const check = await client.callTool({ name: 'validation_validate', arguments: { schemaId: 'card', artifact: { name: 'cards/one', version: '1.0.0' } } });
      expect(check.structuredContent).toEqual({ valid: true, errors: [] });
    });

    it('treats an unknown tool as a protocol error and keeps serving', async () => {
      await expect(client.callTool({ name: 'nope_nothing', arguments: {} })).rejects.toThrow();
      const list = await client.callTool({ name: 'registry_list', arguments: {} });
      expect(list.isError).toBeFalsy();
    });
  });
}

describe('stdio protocol hygiene', () => {
  it('writes nothing but JSON-RPC messages to stdout, and logs to stderr', async () => {
    const child = spawn(process.execPath, [CLI, '--data-dir', 'memory://'], { env: cleanEnv({ LOG_LEVEL: 'debug' }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const send = (message: unknown) => child.stdin.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
    const waitFor = async (id: number) => {
      for (let i = 0; i < 400; i++) {
        if (stdout.split('\n').some((line) => line.includes(`"id":${id}`))) return;
        await sleep(50);
      }
      throw new Error(`no answer to ${id}; stdout: ${stdout}\nstderr: ${stderr}`);
    };
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    await waitFor(1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'registry_publish', arguments: { name: 'raw/one', version: '1.0.0', content: 'x' } } });
    await waitFor(2);
    send('{"this is": not json');
    send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'registry_get', arguments: { name: 'raw/one', version: '1.0.0' } } });
    await waitFor(3);
    await stopProcess(child);

    const lines = stdout.split('\n').filter(Boolean);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
    const byId = Object.fromEntries(lines.map((l) => JSON.parse(l)).filter((m) => m.id !== undefined && m.id !== null).map((m) => [m.id, m]));
    expect(byId[2].result.structuredContent.created).toBe(true);
    expect(byId[3].result.structuredContent.content).toBe('x');
    const logs = stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.map((l) => JSON.parse(l).engine)).toContain('registry');
  });
});

describe('stdio framing of large messages', () => {
  /** A raw stdio connection: send lines, wait for the answer with an id. */
  function rawServer(env: Record<string, string> = {}) {
    const child = spawn(process.execPath, [CLI, '--data-dir', 'memory://'], { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.resume();
    const answers = () => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } });
    return {
      child,
      answers,
      send: (message: unknown) => child.stdin.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`),
      async answer(id: unknown) {
        for (let i = 0; i < 600; i++) {
          const found = answers().find((m) => m.id === id);
          if (found) return found;
          await sleep(50);
        }
        throw new Error(`no answer to ${JSON.stringify(id)}; stdout: ${stdout.slice(0, 2000)}`);
      },
    };
  }
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

  it('answers an 11 MB tools/call and serves the next call', async () => {
    const server = rawServer();
    try {
      server.send(initialize);
      await server.answer(1);
      server.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      const text = 'a'.repeat(11 * 1024 * 1024);
      server.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'rag_ingest', arguments: { collection: 'big', documents: [{ id: 'big', text }] } } });
      const big = await server.answer(2);
      expect(big.result).toMatchObject({ isError: true });
      expect(JSON.stringify(big.result)).toContain('5242880 characters');
      server.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'registry_list', arguments: {} } });
      expect((await server.answer(3)).result).toMatchObject({ structuredContent: { artifacts: [] } });
    } finally {
      await stopProcess(server.child);
    }
  });

  it('answers a message over the limit with an error under its id, and keeps reading', async () => {
    const server = rawServer({ MCP_MAX_BODY_BYTES: String(1024 * 1024) });
    try {
      server.send(initialize);
      await server.answer(1);
      server.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      // The id comes last, after 2 MB of arguments.
      const text = 'b'.repeat(2 * 1024 * 1024);
      server.send(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"rag_ingest","arguments":{"collection":"c","documents":[{"id":"x","text":"${text}"}]}},"id":"late-id"}`);
      const refused = await server.answer('late-id');
      expect(refused.error?.code).toBe(-32013);
      expect(refused.error?.message).toMatch(/larger than the 1048576 bytes this server takes \(security\.max_body_bytes/);
      // No id to be found: answered with id null.
      server.send(`{"jsonrpc":"2.0","params":{"x":"${text}"}}`);
      server.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'registry_list', arguments: {} } });
      expect((await server.answer(4)).result).toMatchObject({ structuredContent: { artifacts: [] } });
      expect(server.answers().filter((m) => m.id === null && m.error?.code === -32013)).toHaveLength(1);
    } finally {
      await stopProcess(server.child);
    }
  });
});

describe('the stdio principal', () => {
  it('runs as the principal and scopes set in config: a read-only agent reads, and is refused a write naming the scope', async () => {
    const client = await connectStdio('v2', ['--data-dir', 'memory://'], { MCP_STDIO_PRINCIPAL: 'reader-agent', MCP_STDIO_SCOPES: 'registry:read,governance:read' });
    try {
      const listed = await client.callTool({ name: 'registry_list', arguments: {} });
      expect(listed.isError).toBeFalsy();
      const refused = await client.callTool({ name: 'registry_publish', arguments: { name: 'stdio/one', version: '1.0.0', content: 'x' } });
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain('registry_publish needs the scope \\"registry:write\\", which principal \\"reader-agent\\" does not have');
      const audit = await client.callTool({ name: 'governance_audit_query', arguments: { operation: 'registry_publish' } });
      expect(audit.structuredContent).toMatchObject({ records: [{ principal: 'reader-agent', outcome: 'denied' }] });
    } finally {
      await client.close();
    }
  });

  const initializeLine = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`;

  it('answers the handshake at once and the requests written with it once the app is built, in order', async () => {
    const child = spawn(process.execPath, [CLI, '--data-dir', 'memory://'], { env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const requests = [
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'validation_list_schemas', arguments: {} } },
      { jsonrpc: '2.0', id: 4, method: 'ping' },
    ];
    child.stdin.write(initializeLine + requests.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const answers = () => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: number; result?: Record<string, unknown> });
    for (let waited = 0; answers().length < 4 && waited < 60_000; waited += 50) await sleep(50);
    await stopProcess(child);
    const got = answers();
    expect(got.map((a) => a.id).slice(0, 2)).toEqual([1, 2]);
    expect(got.map((a) => a.id).sort()).toEqual([1, 2, 3, 4]);
    expect((got[1]!.result!.tools as unknown[]).length).toBeGreaterThan(20);
    expect(got.find((a) => a.id === 3)!.result).toMatchObject({ structuredContent: { schemas: expect.any(Array) } });
  });

  it('stops on a configuration that does not load, after answering the handshake, naming key and expectation', async () => {
    const result = await runCli(['--data-dir', 'memory://'], cleanEnv({ DAG_MAX_NODES: 'ten' }), { input: initializeLine });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('engine_map.DAG_engine.settings.maxNodes: expected a positive integer, got "ten"');
    expect(JSON.parse(result.stdout.trim())).toMatchObject({ id: 1, result: { serverInfo: { name: 'mcp-level3' } } });
  });

  it('stops at start-up on a scope no operation declares, listing the valid ones', async () => {
    const result = await runCli(['--data-dir', 'memory://'], cleanEnv({ MCP_STDIO_SCOPES: 'registry:reed' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/auth-config\.yaml: stdio\.scopes: "registry:reed" is not a scope; valid scopes are .*registry:read/);
    expect(result.stdout).toBe('');
  });
});
