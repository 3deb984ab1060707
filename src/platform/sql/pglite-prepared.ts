/*
 * Named statements on PGlite
 * ==========================
 * PGlite's `query` parses and plans every statement, in five protocol round trips into the
 * WebAssembly (parse, describe, bind, describe, execute) before its sync. A statement that
 * runs on nearly every call (the audit append) is kept instead as a named statement in the
 * session: parsed and planned once, then bound and run in one round trip. Measured on the
 * audit append: about 420 µs a call against 950 µs (bench/results/2026-12-06-prepared-statements.md).
 * PostgreSQL re-plans a named statement when a table it reads changes, as for any client.
 *
 * It takes the same locks as PGlite's own `query` (no transaction open, then the statement
 * lock) and serializes parameters and parses rows with the instance's own type handlers, so
 * its answers are those `query` gives.
 */
import type { parse as pgliteParse, PGlite, protocol as pgliteProtocol, Results } from '@electric-sql/pglite';

export type PreparedQuery = <R>(name: string, text: string, values: readonly unknown[]) => Promise<Results<R>>;

export function pglitePrepared(db: PGlite, { protocol: { serialize }, parse }: { protocol: typeof pgliteProtocol; parse: typeof pgliteParse }): PreparedQuery {
  const statements = new Map<string, { text: string; paramTypes: number[] }>();
  return <R>(name: string, text: string, values: readonly unknown[]) =>
    db._runExclusiveTransaction(() =>
      db.runExclusive(async () => {
        let statement = statements.get(name);
        if (statement && statement.text !== text) throw new Error(`sql: the prepared statement "${name}" was given another text; each name needs one text`);
        if (!statement) {
          const { messages } = await db.execProtocol(Buffer.concat([serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()]), { syncToFs: false });
          statement = { text, paramTypes: parse.parseDescribeStatementResults(messages) };
          statements.set(name, statement);
        }
        const { paramTypes } = statement;
        const params = values.map((value, i) => {
          if (value === null || value === undefined) return null;
          const serializer = db.serializers[paramTypes[i]!];
          return serializer ? serializer(value) : String(value);
        });
        const { messages } = await db.execProtocol(
          Buffer.concat([serialize.bind({ statement: name, values: params }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]),
          { syncToFs: false },
        );
        await db.syncToFs();
        return parse.parseResults(messages, db.parsers)[0] as Results<R>;
      }),
    );
}
