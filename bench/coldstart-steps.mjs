#!/usr/bin/env node
/*
 * Where a stdio start goes, step by step
 * ======================================
 *   node bench/coldstart-steps.mjs [runs] [--root CHECKOUT] [--existing]   (after npm run build; default 5 runs)
 * Each run is a fresh process that does, in process, what `mcp-level3 stdio` does before it
 * can answer `initialize`, one step at a time in the order the CLI meets them, and then
 * what it does after (opening storage), printing each step's wall and CPU ms. A package
 * is charged to the first step that loads it: the big dependencies are imported on their
 * own first, so the declaration and app steps show only their own modules and the schemas
 * they build. Prints, per step, the median over the runs, and the total up to the
 * `initialize` answer (the steps marked *).
 * It runs with `--data-dir memory://` (the database is created in memory each time) or, with
 * --existing, on a data dir created by one unrecorded run first; with the checkout's config/.
 * --root measures another built checkout (e.g. a worktree of the commit before a change);
 * packages still resolve from this checkout's node_modules.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const rootAt = process.argv.indexOf('--root');
const ROOT = rootAt > 0 ? resolve(process.argv[rootAt + 1]) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => pathToFileURL(join(ROOT, 'dist', p)).href;
const dataDirAt = process.argv.indexOf('--data-dir');
const DATA_DIR = dataDirAt > 0 ? process.argv[dataDirAt + 1] : 'memory://';

async function child() {
  process.chdir(ROOT);
  const rows = [];
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  rows.push({ step: 'node start-up, to the first line of a module', beforeInitialize: true, wallMs: performance.now(), cpuMs: (cpu0.user + cpu0.system) / 1000 });
  const step = async (name, beforeInitialize, fn) => {
    const value = await fn();
    const cpu = process.cpuUsage(cpu0);
    rows.push({ step: name, beforeInitialize, wallMs: performance.now() - wall0, cpuMs: (cpu.user + cpu.system) / 1000 });
    cpu0 = process.cpuUsage();
    wall0 = performance.now();
    return value;
  };
  await step('zod', true, () => import('zod'));
  await step('@modelcontextprotocol/server (its protocol schemas)', true, () => import('@modelcontextprotocol/server'));
  const { createDeferredStdioServer } = await step('stdio: SDK stdio module, line transport, the MCP surface module', true, () =>
    Promise.all([import('@modelcontextprotocol/server/stdio'), import(dist('src/server/stdio-transport.js')), import(dist('src/server/mcp-server.js')), import(dist('src/platform/data-dir-lock.js'))]).then(([, , surface]) => surface),
  );
  const { createMcpServerFactory } = await import(dist('src/server/mcp-server.js'));
  const stdioServer = await step('one McpServer, its handlers not installed yet (what answers initialize)', true, () => {
    const deferred = createDeferredStdioServer();
    deferred.factory({ era: 'legacy' });
    return deferred;
  });
  await step('(after initialize) yaml', false, () => import('yaml'));
  await step('(after initialize) pino', false, () => import('pino'));
  await step('(after initialize) configuration schemas (src/config)', false, () => import(dist('src/config/load-config.js')));
  await step('(after initialize) declarations: tools, resources, prompts (zod schemas built at load)', false, () =>
    Promise.all([import(dist('tools/index.js')), import(dist('resources/index.js')), import(dist('prompts/index.js'))]),
  );
  const { App } = await step('(after initialize) the rest of the app module graph', false, () =>
    Promise.all([import(dist('src/app.js')), import(dist('tools/scopes.js')), import(dist('src/server/limits.js'))]).then(([app]) => app),
  );
  const app = await step('(after initialize) new App(): read, interpolate and validate the YAML config, logger, operations', false, () => new App({ dataDir: DATA_DIR, runsWorkflows: true }));
  await step('(after initialize) handlers installed; the tool catalog (a JSON Schema per tool), on the first tools/list', false, () => {
    stdioServer.install(app, { id: 'local', scopes: ['*'] });
    return createMcpServerFactory(app, () => ({ id: 'local', scopes: ['*'] })).catalog;
  });
  await step('(after initialize) prom-client, on first use', false, () => app.metrics);
  await step('(after initialize) engine and driver modules', false, () =>
    Promise.all(
      ['src/platform/sql/migrations.js', 'src/engines/registry/registry-engine.js', 'src/engines/validation/validation-engine.js', 'src/engines/validation/structured-content.js', 'src/engines/rag/rag-engine.js', 'src/engines/governance/governance-engine.js', 'src/engines/taxonomy/load-taxonomy.js', 'src/engines/promotion/promotion-engine.js', 'src/adapters.js'].map((p) => import(dist(p))),
    ).then(() => Promise.all([import('@electric-sql/pglite'), import('@electric-sql/pglite-pgvector')])),
  );
  await step(DATA_DIR === 'memory://' ? '(after initialize) storage: PGlite in memory (initdb), migrations, engines' : '(after initialize) storage: PGlite on the existing data dir, migrations checked, engines', false, () => app.services());
  await app.close();
  process.stdout.write(`${JSON.stringify(rows)}\n`);
  process.exit(0);
}

function parent(runs) {
  const all = [];
  const dataDir = process.argv.includes('--existing') ? mkdtempSync(join(tmpdir(), 'coldstart-steps-')) : 'memory://';
  const once = () => spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--root', ROOT, '--data-dir', dataDir], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent' }, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (dataDir !== 'memory://') once(); // creates and migrates the database; not recorded
  for (let i = 0; i < runs; i++) {
    const out = once();
    if (out.status !== 0) throw new Error(`run ${i + 1} failed: ${out.stderr}`);
    all.push(JSON.parse(out.stdout.trim().split('\n').pop()));
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const steps = all[0].map((row, index) => ({
    step: row.step,
    beforeInitialize: row.beforeInitialize,
    wallMs: Math.round(median(all.map((r) => r[index].wallMs))),
    cpuMs: Math.round(median(all.map((r) => r[index].cpuMs))),
  }));
  const before = steps.filter((s) => s.beforeInitialize);
  const totals = { wallMs: before.reduce((sum, s) => sum + s.wallMs, 0), cpuMs: before.reduce((sum, s) => sum + s.cpuMs, 0) };
  for (const s of steps) console.log(`${s.beforeInitialize ? '*' : ' '} ${String(s.cpuMs).padStart(6)} ms CPU ${String(s.wallMs).padStart(6)} ms wall  ${s.step}`);
  console.log(`  ${String(totals.cpuMs).padStart(6)} ms CPU ${String(totals.wallMs).padStart(6)} ms wall  total of the steps before initialize (median per step, ${runs} runs)`);
  if (dataDir !== 'memory://') rmSync(dataDir, { recursive: true, force: true });
}

if (process.argv.includes('--child')) await child();
else parent(Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 5));
