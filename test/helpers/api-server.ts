/*
 * The HTTP surface of an in-process App on a loopback port, for the API and auth suites.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppOptions } from '../../src/app.js';
import { createHttpApp, type HttpApp, type HttpAppOptions } from '../../src/server/http-app.js';
import { startTestApp, uniqueId, type Backend, type TestApp } from './backends.js';

export interface ApiServer extends TestApp {
  origin: string;
  http: HttpApp;
  /** Cuts every open connection (streams included), as a restart or a network fault would; the server keeps listening. */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startApiServer(backend: Backend, overrides: Partial<AppOptions> = {}, maxBodyBytes = 256 * 1024, httpOptions: Partial<HttpAppOptions> = {}): Promise<ApiServer> {
  const t = await startTestApp(backend, overrides);
  const http = createHttpApp(t.app, {
    allowedHosts: ['localhost', '127.0.0.1'],
    maxBodyBytes,
    rateLimitRedisUrl: backend.redisUrl,
    rateLimitKeyPrefix: `${uniqueId('rl')}:`,
    ...httpOptions,
  });
  await http.ready();
  const server: Server = createServer(http.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...t,
    origin: `http://127.0.0.1:${port}`,
    http,
    dropConnections: () => server.closeAllConnections(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await http.close();
      await t.close();
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies of many shapes
  json: any;
}

/** A request with node:http, which (unlike fetch) lets a test set Host and send any bytes. */
export function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
