/*
 * PGlite adapter (embedded default)
 * =================================
 * PostgreSQL compiled to WASM, in-process, with the pgvector extension. One connection:
 * PGlite serializes statements itself, and a transaction holds it exclusively, so there is
 * no pool. The driver is imported lazily so that `initialize` never waits for it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tracingEnabled, withSpan } from '../tracing.js';
import { translated } from './sql-errors.js';
import { pglitePrepared, type PreparedQuery } from './pglite-prepared.js';
import { assertIdentifier, type QueryOptions, type SqlExecutor, type SqlPort, type SqlResult } from './sql-port.js';

interface PGliteQueryable {
  query<R>(text: string, values?: unknown[], options?: { blob?: Blob }): Promise<{ rows: R[]; affectedRows?: number }>;
  exec(text: string): Promise<unknown>;
}

interface PGliteLike extends PGliteQueryable {
  transaction<T>(fn: (tx: PGliteQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// pg's instrumentation traces the PostgreSQL adapter; PGlite is in-process, so its spans
// are made here, with the same attributes. Only inside a trace (an operation, a request):
// statements run at start-up are not traces of their own. Values are never recorded.
function traced<T>(text: string, fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn();
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
  return withSpan(`pglite.query:${operation}`, { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.text': text }, fn, {
    kind: 'client',
    requireParent: true,
  });
}

/** `prepared` runs named statements: given for the instance, not inside a transaction (whose statements are few and varied). */
function wrap(db: PGliteQueryable, prepared?: PreparedQuery): SqlExecutor {
  return {
    query<R>(text: string, values?: readonly unknown[], options?: QueryOptions): Promise<SqlResult<R>> {
      return traced(text, () =>
        translated(async () => {
          const result = options?.prepare && prepared ? await prepared<R>(options.prepare, text, values ?? []) : await db.query<R>(text, values ? [...values] : undefined);
          return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
        }),
      );
    },
    exec(text: string) {
      return traced(text, () => translated(() => db.exec(text).then(() => undefined)));
    },
    async copyBinary(table, columns, data) {
      // Identifiers come from engine code, never from input; the check keeps it that way.
      for (const name of [table, ...columns]) assertIdentifier(name, 'copy identifier');
      const text = `copy ${table} (${columns.join(', ')}) from '/dev/blob' with (format binary)`;
      await traced(text, () => db.query(text, [], { blob: new Blob([data]) }));
    },
  };
}

function createInChildProcess(dataDir: string): Promise<void> {
  // Under tsx (npm run dev) this module is .ts, and so is its sibling.
  const script = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './pglite-init.ts' : './pglite-init.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`creating the embedded database in ${dataDir} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

export interface PgliteSettings {
  /** PostgreSQL's shared_buffers, in MB (PGlite's default is 128). */
  sharedBuffersMb: number;
}

export async function createPglite(dataDir: string | undefined, settings?: PgliteSettings): Promise<SqlPort> {
  const [pglite, { vector }] = await Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-pgvector')]);
  const { PGlite } = pglite;
  // PGlite's start parameters replace its defaults, so they are kept and one is added.
  const startParams = settings ? [...PGlite.defaultStartParams, '-c', `shared_buffers=${settings.sharedBuffersMb}MB`] : undefined;
  const instance = await PGlite.create({ dataDir, extensions: { vector }, ...(startParams ? { startParams } : {}) });
  const db = instance as unknown as PGliteLike;
  const base = wrap(db, pglitePrepared(instance, pglite));
  return {
    kind: 'pglite',
    ...base,
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    async ping() {
      await db.query('select 1');
    },
    close: () => db.close(),
  };
}

/** dataDir undefined keeps everything in memory. */
export async function openPglite(dataDir: string | undefined, settings?: PgliteSettings): Promise<SqlPort> {
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true });
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await createInChildProcess(dataDir);
  }
  return createPglite(dataDir, settings);
}
