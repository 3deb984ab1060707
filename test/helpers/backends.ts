/*
 * Backends the contract suites run against: the embedded defaults always, PostgreSQL and
 * Redis when their URLs are set. A missing service is reported in the suite title with the
 * variable to set, and the suite is skipped.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { App, MEMORY_DATA_DIR, type AppOptions } from '../../src/app.js';
import { openPglite } from '../../src/platform/sql/pglite-adapter.js';
import { openPostgres } from '../../src/platform/sql/postgres-adapter.js';
import type { SqlPort } from '../../src/platform/sql/sql-port.js';

export interface Backend {
  /** Suite title suffix, e.g. "pglite + memory cache". */
  name: string;
  /** Why it is skipped, naming the variable to set; undefined when it runs. */
  skip?: string;
  databaseUrl?: string;
  redisUrl?: string;
}

export const DATABASE_URL = process.env.DATABASE_URL;
export const REDIS_URL = process.env.REDIS_URL;

export function appBackends(): Backend[] {
  return [
    { name: 'pglite + memory cache' },
    {
      name: 'postgres + redis',
      skip: !DATABASE_URL ? 'set DATABASE_URL to a PostgreSQL with pgvector' : !REDIS_URL ? 'set REDIS_URL to a Redis server' : undefined,
      databaseUrl: DATABASE_URL,
      redisUrl: REDIS_URL,
    },
  ];
}

export function title(backend: { name: string; skip?: string }): string {
  return backend.skip ? `${backend.name} (skipped: ${backend.skip})` : backend.name;
}

export const silentLogger = pino({ level: 'silent' });

export function uniqueId(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export interface TestApp {
  app: App;
  close(): Promise<void>;
}

/** A server instance with its own schema (PostgreSQL) or in-memory database (PGlite). */
export async function startTestApp(backend: Backend, overrides: Partial<AppOptions> = {}): Promise<TestApp> {
  const schema = backend.databaseUrl ? uniqueId('t') : undefined;
  const app = new App({
    dataDir: MEMORY_DATA_DIR,
    databaseUrl: backend.databaseUrl,
    redisUrl: backend.redisUrl,
    databaseSchema: schema,
    cacheKeyPrefix: `${uniqueId('test')}:`,
    logger: silentLogger,
    ...overrides,
    // The suites' rankings were chosen with the offline embedder; the default (the local
    // model) has suites of its own (rag-onnx.test.ts).
    env: { EMBEDDINGS_PROVIDER: 'offline', ...overrides.env },
  });
  await app.services();
  return {
    app,
    async close() {
      await app.close();
      if (schema && backend.databaseUrl) await dropSchema(backend.databaseUrl, schema);
    },
  };
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

/** A throw-away database next to DATABASE_URL (for separate server processes), dropped by `drop()`. */
export async function freshDatabase(label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = uniqueId(label);
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(DATABASE_URL!);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    async drop() {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`).catch(() => undefined);
      await client.end();
    },
  };
}

export const ADMIN = { principal: { id: 'test-admin', scopes: ['*'] } };

export const SQL_POOL = { min: 0, max: 5, acquireTimeoutMillis: 5000, idleTimeoutMillis: 1000 };

export interface SqlBackend {
  name: string;
  skip?: string;
  open(): Promise<{ sql: SqlPort; cleanup: () => Promise<void> }>;
}

/** The SQL port alone, on each backend (the port's contract suite). */
export function sqlBackends(): SqlBackend[] {
  return [
  {
    name: 'pglite',
    async open() {
      const sql = await openPglite(undefined);
      return { sql, cleanup: async () => undefined };
    },
  },
  {
    name: 'postgres',
    skip: DATABASE_URL ? undefined : 'set DATABASE_URL to a PostgreSQL with pgvector',
    async open() {
      const schema = uniqueId('sql');
      const sql = await openPostgres(DATABASE_URL!, SQL_POOL, schema);
      return { sql, cleanup: () => dropSchema(DATABASE_URL!, schema) };
    },
  },
  ];
}
