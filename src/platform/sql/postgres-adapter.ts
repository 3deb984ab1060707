/*
 * PostgreSQL adapter (scale-out)
 * ==============================
 * A `pg` Pool sized from config (the seed's pool: min 10, max 50, 30 s acquire and idle
 * timeouts). With `schema`, every connection's search_path starts there, which lets
 * tests and tenants share one database without sharing tables.
 */
import pg from 'pg';
import { translated } from './sql-errors.js';
import { assertIdentifier, type QueryOptions, type SqlExecutor, type SqlPort, type SqlResult } from './sql-port.js';

export interface PoolSettings {
  min: number;
  max: number;
  acquireTimeoutMillis: number;
  idleTimeoutMillis: number;
}

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

function wrap(db: Queryable): SqlExecutor {
  return {
    query<R>(text: string, values?: readonly unknown[], options?: QueryOptions): Promise<SqlResult<R>> {
      return translated(async () => {
        const params = values as unknown[] | undefined;
        const result = await (options?.prepare ? db.query({ name: options.prepare, text, values: params }) : db.query(text, params));
        return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
      });
    },
    exec(text: string) {
      return translated(async () => {
        await db.query(text);
      });
    },
  };
}

export async function openPostgres(url: string, pool: PoolSettings, schema?: string): Promise<SqlPort> {
  if (schema) {
    assertIdentifier(schema, 'schema');
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    try {
      await setup.query(`create schema if not exists ${schema}`);
    } catch (error) {
      // Two replicas creating the schema at once: "if not exists" is not atomic in PostgreSQL,
      // and the loser gets a unique violation on pg_namespace. The schema is there either way.
      if ((error as { code?: string }).code !== '23505') throw error;
    } finally {
      await setup.end();
    }
  }
  const db = new pg.Pool({
    connectionString: url,
    min: Math.min(pool.min, pool.max),
    max: pool.max,
    connectionTimeoutMillis: pool.acquireTimeoutMillis,
    idleTimeoutMillis: pool.idleTimeoutMillis,
    ...(schema ? { options: `-c search_path=${schema},public` } : {}),
  });
  // An idle client losing its server (a restart) must not crash the process; the pool
  // replaces it on the next checkout.
  db.on('error', () => undefined);
  await db.query('select 1');
  const base = wrap(db);
  return {
    kind: 'postgres',
    ...base,
    async transaction(fn) {
      const client = await translated(() => db.connect());
      try {
        await client.query('begin');
        const result = await fn(wrap(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    ping: () => base.query('select 1').then(() => undefined),
    close: () => db.end(),
    poolFigures: () => ({ total: db.totalCount, idle: db.idleCount, waiting: db.waitingCount, max: pool.max }),
  };
}
