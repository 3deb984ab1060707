/*
 * Creates a new embedded database in the data directory given as the only argument, then
 * exits. Run as a child process by the PGlite adapter: PostgreSQL's initdb runs in a WASM
 * instance of its own that stays mapped as long as the process lives (about 150 MB), so
 * doing it in a short-lived process keeps the server's resident memory at its steady level.
 */
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('pglite-init: usage: pglite-init <data dir>\n');
  process.exit(2);
}
const db = await PGlite.create({ dataDir, extensions: { vector } });
await db.query('select 1');
await db.close();
