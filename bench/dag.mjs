/*
 * dag benchmark
 * =============
 * 1. Validation of a 10,000-node layered DAG (100 layers of 100; each node depends on two
 *    of the layer before and reads one of them in an expression): median of 5 after a warm-up.
 * 2. A 10,000-node noop run at concurrency 100 on the embedded database (PGlite in memory),
 *    through the App as dag_run does it, against a bare in-memory topological executor over
 *    the same graph with the same concurrency, in the same process. Scheduling overhead per
 *    node = (ours - bare) / nodes. Peak RSS is sampled every 50 ms.
 * Targets (issue 4): validation ≤ 200 ms; the run ≤ 10 s with ≤ 1 ms overhead per node.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { ROOT, log, round } from './lib.mjs';

const NODES = 10_000;
const WIDTH = 100;
const CONCURRENCY = 100;

function layered(action) {
  return Array.from({ length: NODES }, (_, i) => ({
    id: `n${i}`,
    action,
    ...(i >= WIDTH ? { dependsOn: [`n${i - WIDTH}`, `n${i - WIDTH + ((i + 1) % WIDTH)}`], input: { from: `=nodes.n${i - WIDTH}` } } : {}),
  }));
}

/** Kahn's algorithm with a concurrency limit: the floor any DAG executor pays. */
async function bareExecutor(nodes, concurrency) {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const remaining = nodes.map((n) => (n.dependsOn ?? []).length);
  const children = nodes.map(() => []);
  nodes.forEach((n, i) => (n.dependsOn ?? []).forEach((d) => children[index.get(d)].push(i)));
  const ready = nodes.flatMap((_, i) => (remaining[i] === 0 ? [i] : []));
  let running = 0;
  let done = 0;
  await new Promise((resolve) => {
    const pump = () => {
      while (running < concurrency && ready.length > 0) {
        const i = ready.shift();
        running++;
        Promise.resolve(null).then(() => {
          running--;
          done++;
          for (const c of children[i]) if (--remaining[c] === 0) ready.push(c);
          if (done === nodes.length) resolve();
          else pump();
        });
      }
    };
    pump();
  });
}

/**
 * Counts the statements the engines send through the app's SqlPort (the scheduler holds the
 * same object, so patching its methods sees every call), including those inside transactions.
 */
function countStatements(sql) {
  const counted = { statements: 0, transactions: 0 };
  const { query, transaction } = sql;
  sql.query = (...args) => (counted.statements++, query.apply(sql, args));
  sql.transaction = (fn) =>
    transaction.call(sql, (tx) => {
      counted.transactions++;
      const txQuery = tx.query;
      return fn({ ...tx, query: (...args) => (counted.statements++, txQuery.apply(tx, args)) });
    });
  return {
    stop() {
      sql.query = query;
      sql.transaction = transaction;
      return { ...counted };
    },
  };
}

export async function run() {
  const { validateDefinition } = await import(join(ROOT, 'dist/src/engines/dag/validate.js'));
  const { App } = await import(join(ROOT, 'dist/src/app.js'));
  const { dagRun } = await import(join(ROOT, 'dist/tools/dag.js'));

  const definition = { name: 'bench/layered', nodes: layered('transform') };
  const options = { maxNodes: NODES, isAction: () => true, actionNames: () => [] };
  validateDefinition(definition, options);
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const result = validateDefinition(structuredClone(definition), options);
    times.push(performance.now() - t);
    if (!result.valid) throw new Error(`bench definition invalid: ${JSON.stringify(result.errors.slice(0, 3))}`);
  }
  const validateMs = times.sort((a, b) => a - b)[2];
  log(`validate ${NODES} nodes: median ${round(validateMs, 1)} ms`);

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
  const noop = { name: 'bench/noop', concurrency: CONCURRENCY, nodes: layered('noop') };
  const t0 = performance.now();
  await bareExecutor(noop.nodes, CONCURRENCY);
  const bareMs = performance.now() - t0;

  const app = new App({ dataDir: 'memory://', env: { EXECUTION_MAX_CONCURRENCY: String(CONCURRENCY), DAG_POLL_INTERVAL_MS: '50' }, logger: pino({ level: 'silent' }) });
  const { sql } = await app.services();
  const statements = countStatements(sql);
  const principal = { id: 'bench', scopes: ['*'] };
  const t1 = performance.now();
  const result = await app.invoke(dagRun, { definition: noop, wait: true }, { principal });
  const oursMs = performance.now() - t1;
  const counted = statements.stop();
  clearInterval(sampler);
  await app.close();
  if (result.status !== 'succeeded') throw new Error(`the run ended ${result.status}: ${result.error}`);
  const overheadMsPerNode = (oursMs - bareMs) / NODES;
  log(`sql: ${counted.statements} statements, ${counted.transactions} transactions during the run`);
  log(`run ${NODES} noop nodes: ours ${round(oursMs, 0)} ms, bare ${round(bareMs, 1)} ms, ${round(overheadMsPerNode, 3)} ms/node`);
  return {
    validate: { nodes: NODES, medianMs: round(validateMs, 1), targetMs: 200, pass: validateMs <= 200 },
    run: {
      nodes: NODES,
      concurrency: CONCURRENCY,
      database: 'pglite (memory)',
      oursMs: round(oursMs, 0),
      bareInMemoryMs: round(bareMs, 1),
      overheadMsPerNode: round(overheadMsPerNode, 3),
      peakRssMb: round(peakRss / 1024 / 1024, 0),
      // Independent of the machine's speed and load: what the lead can compare across runs.
      sqlStatementsPerNode: round(counted.statements / NODES, 3),
      sqlTransactionsPerNode: round(counted.transactions / NODES, 3),
      targets: { totalMs: 10_000, overheadMsPerNode: 1 },
      pass: oursMs <= 10_000 && overheadMsPerNode <= 1,
    },
    pass: validateMs <= 200 && oursMs <= 10_000 && overheadMsPerNode <= 1,
  };
}
