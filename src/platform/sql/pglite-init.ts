/*
 * Creates and migrates a new embedded database in the data directory given as the only
 * argument, then exits. Run as a child process by the PGlite adapter: PostgreSQL's initdb
 * runs in a WASM instance of its own, and creating the schema touches memory pages, all of
 * which would stay resident for the life of the server (a first start done in-process idles
 * far above the steady level). Doing it in a short-lived process keeps the server at its steady
 * level. The server still runs the migrations itself; here they leave it nothing to do.
 */
import { migrate } from './migrations.js';
import { createPglite } from './pglite-adapter.js';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('pglite-init: usage: pglite-init <data dir>\n');
  process.exit(2);
}
const sql = await createPglite(dataDir);
try {
  await migrate(sql);
} finally {
  await sql.close();
}
