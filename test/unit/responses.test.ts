/*
 * The one error shape of HTTP routes: status from the error table, and Retry-After for an
 * error that says when to retry (a full queue), distinct from the rate limit's.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../src/errors.js';
import { sendError } from '../../src/server/http/responses.js';

describe('sendError', () => {
  let server: Server;
  let origin: string;
  const errors: Record<string, () => [EngineError, Record<string, string>?]> = {
    '/queue-full': () => [new EngineError('QUEUE_FULL', 'busy, retry after 5 s: 1000 runs are waiting to start', { retryAfterSeconds: 5 })],
    '/rate-limited': () => [new EngineError('BUSY', 'principal "p" sent more than 10 requests this minute; wait 7 s'), { 'retry-after': '7' }],
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const [error, headers] = errors[req.url!]!();
      sendError(res, error, headers);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('answers a full queue with 503, QUEUE_FULL and Retry-After from details.retryAfterSeconds', async () => {
    const response = await fetch(`${origin}/queue-full`);
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('5');
    expect(await response.json()).toEqual({ error: { code: 'QUEUE_FULL', message: 'busy, retry after 5 s: 1000 runs are waiting to start', details: { retryAfterSeconds: 5 } } });
  });

  it('keeps the rate limit at 429 BUSY with the Retry-After it was given', async () => {
    const response = await fetch(`${origin}/rate-limited`);
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('BUSY');
  });
});
