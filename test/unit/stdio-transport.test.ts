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
