/*
 * Local administration of a running server
 * =========================================
 * The embedded database (PGlite) in a data dir is open in one process at a time, so
 * `mcp-level3 apikey create|list|revoke` cannot open it while a server runs there. The server
 * that holds the data dir listens instead on a unix socket in it, `admin.sock`, for exactly
 * these three key operations, and the command talks to it:
 *
 * - only the owner of the data dir can connect: the socket is mode 0600;
 * - and each request carries the token the server wrote to `admin.token` (mode 0600, new at
 *   every start), compared in constant time;
 * - one JSON request per connection, at most 64 KB; nothing else is served.
 *
 * With DATABASE_URL (PostgreSQL) the command opens its own connection and needs none of this.
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../platform/log.js';
import type { ApiKeyRecord, ApiKeyStore } from './auth/api-key-store.js';
import { EngineError, isEngineError } from '../errors.js';

export const ADMIN_SOCKET = 'admin.sock';
export const ADMIN_TOKEN = 'admin.token';
const MAX_REQUEST_BYTES = 64 * 1024;
/** Unix socket paths are limited to about 104–108 bytes. */
const MAX_SOCKET_PATH = 100;

export type KeyAction =
  | { action: 'create'; name: string; scopes: string[]; expiresInSeconds?: number }
  | { action: 'list' }
  | { action: 'revoke'; id: string };

export type KeyActionResult =
  | { action: 'create'; created: ApiKeyRecord & { key: string } }
  | { action: 'list'; keys: ApiKeyRecord[] }
  | { action: 'revoke'; revoked: ApiKeyRecord };

/** The one implementation of the key actions, for the command's own connection and for the socket. */
export async function runKeyAction(store: ApiKeyStore, request: KeyAction): Promise<KeyActionResult> {
  switch (request.action) {
    case 'create':
      return { action: 'create', created: await store.create(request) };
    case 'list':
      return { action: 'list', keys: await store.list() };
    case 'revoke':
      return { action: 'revoke', revoked: await store.revoke(request.id) };
  }
}

function parseAction(value: unknown): KeyAction {
  const request = value as Record<string, unknown>;
  if (request?.action === 'list') return { action: 'list' };
  if (request?.action === 'revoke' && typeof request.id === 'string') return { action: 'revoke', id: request.id };
  if (request?.action === 'create' && typeof request.name === 'string' && Array.isArray(request.scopes) && request.scopes.every((s) => typeof s === 'string')) {
    const expires = request.expiresInSeconds;
    return { action: 'create', name: request.name, scopes: request.scopes as string[], ...(typeof expires === 'number' ? { expiresInSeconds: expires } : {}) };
  }
  throw new EngineError('INVALID_INPUT', 'expected {action: "create", name, scopes, expiresInSeconds?}, {action: "list"} or {action: "revoke", id}');
}

function sameToken(given: unknown, token: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface AdminSocket {
  path: string;
  close(): Promise<void>;
}

/** Listens on <dataDir>/admin.sock; undefined where unix sockets do not fit (Windows, a path too long). */
/** `store` is the server's own, so a key revoked here stops authenticating at once. */
export async function serveAdminSocket(dataDir: string, store: ApiKeyStore, log: Logger): Promise<AdminSocket | undefined> {
  const path = join(dataDir, ADMIN_SOCKET);
  if (process.platform === 'win32' || path.length > MAX_SOCKET_PATH) {
    log.warn({ path }, 'no admin socket here (Windows, or a data dir path too long for a unix socket): stop the server to run `mcp-level3 apikey`');
    return undefined;
  }
  const tokenPath = join(dataDir, ADMIN_TOKEN);
  const token = randomBytes(32).toString('base64url');
  // This process holds the data dir's lock, so a socket or token there is a dead server's.
  rmSync(path, { force: true });
  writeFileSync(tokenPath, token, { mode: 0o600 });
  chmodSync(tokenPath, 0o600);

  const server: Server = createServer((socket: Socket) => {
    let received = '';
    const answer = (body: unknown) => socket.end(`${JSON.stringify(body)}\n`);
    socket.setEncoding('utf8');
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.length > MAX_REQUEST_BYTES) return answer({ error: { code: 'TOO_LARGE', message: 'request over 64 KB' } });
      const newline = received.indexOf('\n');
      if (newline === -1) return;
      socket.removeAllListeners('data');
      void (async () => {
        try {
          const message = JSON.parse(received.slice(0, newline)) as { token?: unknown };
          if (!sameToken(message.token, token)) {
            log.warn({ audit: 'admin-refused' }, 'admin socket: a request with a wrong token was refused');
            return answer({ error: { code: 'UNAUTHENTICATED', message: `the token does not match ${tokenPath}` } });
          }
          const request = parseAction(message);
          const result = await runKeyAction(store, request);
          log.info({ audit: 'api-key', action: request.action, ...(request.action === 'revoke' ? { id: request.id } : {}), ...(result.action === 'create' ? { id: result.created.id } : {}) }, 'api key action through the admin socket');
          answer({ result });
        } catch (error) {
          answer({ error: isEngineError(error) ? { code: error.code, message: error.message } : { code: 'INTERNAL', message: 'the server failed; its log has the details' } });
          if (!isEngineError(error)) log.error({ err: error }, 'admin socket request failed');
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  log.info({ path }, 'admin socket for `mcp-level3 apikey` listening');
  return {
    path,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
      rmSync(tokenPath, { force: true });
    },
  };
}

/**
 * Runs a key action through the server running on dataDir, or returns undefined when none
 * answers there (no socket, or one left by a server that is gone).
 */
export async function requestKeyAction(dataDir: string, request: KeyAction): Promise<KeyActionResult | undefined> {
  const path = join(dataDir, ADMIN_SOCKET);
  if (process.platform === 'win32' || !existsSync(path)) return undefined;
  let token: string;
  try {
    token = readFileSync(join(dataDir, ADMIN_TOKEN), 'utf8').trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new EngineError('FORBIDDEN', `a server runs on ${dataDir}, but its admin token ${join(dataDir, ADMIN_TOKEN)} cannot be read (${code}); run this as the user that runs the server`);
  }
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let received = '';
    socket.setEncoding('utf8');
    socket.setTimeout(15_000, () => {
      socket.destroy();
      reject(new EngineError('UNAVAILABLE', `the server on ${dataDir} did not answer on ${path} within 15 s`));
    });
    socket.on('connect', () => socket.write(`${JSON.stringify({ ...request, token })}\n`));
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // Nobody listens: the socket file is a dead server's.
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolve(undefined);
      else if (error.code === 'EACCES') reject(new EngineError('FORBIDDEN', `a server runs on ${dataDir}, but ${path} refuses this user; run this as the user that runs the server`));
      else reject(error);
    });
    socket.on('end', () => {
      try {
        const answer = JSON.parse(received) as { result?: KeyActionResult; error?: { code: string; message: string } };
        if (answer.error) reject(new EngineError(answer.error.code as EngineError['code'], answer.error.message));
        else resolve(answer.result);
      } catch {
        reject(new EngineError('INTERNAL', `the server on ${dataDir} answered something unreadable on ${path}`));
      }
    });
  });
}
