import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineStdioTransport, TopLevelScanner } from '../../src/server/stdio-transport.js';

const scan = (text: string, pieces = 1) => {
  const scanner = new TopLevelScanner();
  const bytes = Buffer.from(text);
  const size = Math.ceil(bytes.length / pieces);
  for (let at = 0; at < bytes.length; at += size) scanner.feed(bytes, at, Math.min(bytes.length, at + size));
  return { id: scanner.id, hasMethod: scanner.hasMethod };
};

describe('the top-level scanner of an oversized line', () => {
  it('finds the id wherever it is, not the ids nested in params', () => {
    expect(scan('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"id":99}}')).toEqual({ id: 7, hasMethod: true });
    expect(scan('{"jsonrpc":"2.0","method":"x","params":{"id":"inner","s":"a \\"id\\": 3 }"},"id":"late"}', 7)).toEqual({ id: 'late', hasMethod: true });
    expect(scan('{"jsonrpc":"2.0","method":"notifications/x","params":{"id":1}}')).toEqual({ id: undefined, hasMethod: true });
    expect(scan('{"jsonrpc":"2.0","id":{"not":"usable"},"method":"x"}')).toEqual({ id: undefined, hasMethod: true });
  });
});

describe('the line-framed stdio transport', () => {
  it('answers a line over the limit under its id and delivers the next line', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const transport = new LineStdioTransport({ maxMessageBytes: 1000 }, stdin, stdout);
    const received: unknown[] = [];
    transport.onmessage = (message) => received.push(message);
    await transport.start();
    let written = '';
    stdout.on('data', (d) => (written += d));
    stdin.write(`{"jsonrpc":"2.0","method":"tools/call","params":{"x":"${'a'.repeat(600)}`);
    stdin.write(`${'b'.repeat(600)}"},"id":5}\n{"jsonrpc":"2.0","id":6,"method":"ping"}\n`);
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(written.trim())).toMatchObject({ jsonrpc: '2.0', id: 5, error: { code: -32013 } });
    expect(received).toEqual([{ jsonrpc: '2.0', id: 6, method: 'ping' }]);
    await transport.close();
  });
});

describe('the stdio transport held until the app is built', () => {
  const line = (message: object) => `${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`;
  const initialize = line({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  const tick = () => new Promise((r) => setImmediate(r));

  async function held() {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let needed = 0;
    const transport = new LineStdioTransport({ maxMessageBytes: 300, held: true, onNeeded: () => needed++ }, stdin, stdout);
    const received: { method?: string; id?: unknown }[] = [];
    transport.onmessage = (message) => received.push(message as { method?: string });
    await transport.start();
    let written = '';
    stdout.on('data', (d) => (written += d));
    return { stdin, transport, received, needed: () => needed, written: () => written };
  }

  it('reads the opening initialize at once, and what follows only on release, in order, under the limit given then', async () => {
    const t = await held();
    t.stdin.write(initialize + line({ method: 'notifications/initialized' }) + line({ id: 2, method: 'tools/list' }));
    await tick();
    expect(t.received.map((m) => m.method)).toEqual(['initialize']);
    expect(t.needed()).toBe(1);
    t.stdin.write(line({ id: 3, method: 'tools/call', params: { name: 'x', arguments: { text: 'y'.repeat(500) } } }));
    await tick();
    expect(t.received).toHaveLength(1);
    t.transport.release({ maxMessageBytes: 10_000 });
    await tick();
    expect(t.received.map((m) => m.method)).toEqual(['initialize', 'notifications/initialized', 'tools/list', 'tools/call']);
    t.stdin.write(line({ id: 4, method: 'ping' }));
    await tick();
    expect(t.received.at(-1)).toMatchObject({ id: 4, method: 'ping' });
    expect(t.needed()).toBe(1);
    await t.transport.close();
  });

  it('says it is needed once the initialize answer is written, when nothing else waits', async () => {
    const t = await held();
    t.stdin.write(initialize);
    await tick();
    expect(t.needed()).toBe(0);
    await t.transport.send({ jsonrpc: '2.0', id: 1, result: {} } as never);
    await tick();
    expect(t.needed()).toBe(1);
    await t.transport.close();
  });

  it('holds an opening message that is not initialize (a 2026-07-28 client), and a line split across reads', async () => {
    const t = await held();
    const list = line({ id: 9, method: 'tools/list' });
    t.stdin.write(list.slice(0, 10));
    await tick();
    t.stdin.write(list.slice(10));
    await tick();
    expect(t.received).toEqual([]);
    expect(t.needed()).toBe(1);
    t.transport.release();
    await tick();
    expect(t.received).toEqual([{ jsonrpc: '2.0', id: 9, method: 'tools/list' }]);
    await t.transport.close();
  });

  it('reads what waited even when stdin ended meanwhile, then closes', async () => {
    const t = await held();
    let closed = false;
    t.transport.onclose = () => (closed = true);
    t.stdin.end(initialize + line({ id: 2, method: 'tools/list' }));
    await tick();
    await tick();
    expect(closed).toBe(false);
    t.transport.release();
    await tick();
    expect(t.received.map((m) => m.method)).toEqual(['initialize', 'tools/list']);
    expect(closed).toBe(true);
  });
});
