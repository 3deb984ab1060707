/*
 * SQL port
 * ========
 * The narrow surface engines use to reach PostgreSQL: parameterized queries, multi-statement
 * exec (migrations), and transactions. Implemented by the embedded PGlite adapter and the
 * `pg` Pool adapter; engines never import a driver.
 */

export interface SqlResult<R> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * A name under which the backend keeps the statement parsed and planned, for a statement
   * run on nearly every call with the same text: PostgreSQL prepares it once per connection,
   * PGlite once in its session (pglite-prepared.ts; not inside a transaction, whose
   * statements run as given), instead of parsing and planning it each time; both re-plan it
   * when a table it reads changes. One name, one text, across the codebase.
   */
  prepare?: string;
}

export interface SqlExecutor {
  /** A parameterized statement: values go through $1..$n, never into the text. */
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[], options?: QueryOptions): Promise<SqlResult<R>>;
  /** Several statements without parameters (migrations). */
  exec(text: string): Promise<void>;
  /**
   * `COPY <table> (<columns>) FROM STDIN WITH (format binary)` from encoded rows (see
   * binary-copy.ts), where the backend offers it cheaply (PGlite); callers fall back to
   * parameterized inserts when it is absent.
   */
  copyBinary?(table: string, columns: readonly string[], data: Uint8Array): Promise<void>;
}

export interface SqlPort extends SqlExecutor {
  readonly kind: 'pglite' | 'postgres';
  /** Runs fn in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Connection figures, where there is a pool (PostgreSQL): read by the metrics scrape. */
  poolFigures?(): { total: number; idle: number; waiting: number; max: number };
}

/** Identifiers interpolated into SQL (schema names) must pass this check first. */
export function assertIdentifier(name: string, what: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`sql: ${what} ${JSON.stringify(name)} must be lower-case letters, digits and _ (at most 63)`);
  }
  return name;
}

/** A timestamp column as ISO 8601 UTC (pg gives Date, PGlite may give text); null stays null. */
export function isoTimestamp(value: Date | string): string;
export function isoTimestamp(value: Date | string | null): string | null;
export function isoTimestamp(value: Date | string | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}
