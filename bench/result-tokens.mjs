// Tokens of a tools/call result as an MCP client receives it: the text block (what most
// clients hand the model) and structuredContent. "before" is the text block as a copy of the
// JSON (what the server sent until the compact text); "after" is the text block now.
// Tokens are estimated as characters / 4. Run after `npm run build`:
//   node bench/result-tokens.mjs
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { App, MEMORY_DATA_DIR } from '../dist/src/app.js';
import { ALL_OPERATIONS } from '../dist/tools/index.js';
import { resultContent } from '../dist/src/surface/result-text.js';

const op = (name) => ALL_OPERATIONS.find((o) => o.name === name);
const app = new App({ dataDir: MEMORY_DATA_DIR, logger: pino({ level: 'silent' }), env: {} });
const call = (name, args) => app.invoke(op(name), args, { principal: { id: 'bench', scopes: ['*'] } });
const tokens = (text) => Math.round(text.length / 4);

function measure(name, output) {
  const structured = JSON.stringify(output);
  const before = JSON.stringify({ content: [{ type: 'text', text: JSON.stringify(output) }], structuredContent: output });
  const content = resultContent(op(name), output);
  const after = JSON.stringify({ content, structuredContent: output });
  return {
    textTokens: { before: tokens(JSON.stringify(output)), after: tokens(content[0].text) },
    resultTokens: { before: tokens(before), after: tokens(after) },
    structuredContentTokens: tokens(structured),
  };
}

try {
  const corpus = readFileSync(new URL('../test/fixtures/licenses/corpus.jsonl', import.meta.url), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  await call('rag_ingest', { collection: 'licenses', documents: corpus.map((d) => ({ id: d._id, title: d.title, text: d.text })) });
  const query = { collection: 'licenses', query: 'license that requires making source available to users who interact with the software over a network', topK: 10 };
  const rag = await call('rag_query', query);
  const ragCut = await call('rag_query', { ...query, maxChars: 300 });

  const definition = {
    name: 'bench-flow',
    nodes: [
      { id: 'find', action: 'rag_query', input: { collection: 'licenses', query: 'patent grant', topK: 3 } },
      { id: 'publish', action: 'registry_publish', dependsOn: ['find'], input: { name: 'bench/report', version: '1.0.0', content: '=nodes.find.hits[0].documentId' } },
      { id: 'get', action: 'registry_get', dependsOn: ['publish'], input: { name: 'bench/report', version: '1.0.0' } },
    ],
  };
  const run = await call('dag_run', { definition, wait: true });
  const status = await call('dag_status', { runId: run.runId });
  const result = {
    benchmark: 'result-tokens',
    date: new Date().toISOString(),
    estimate: 'characters / 4',
    rag_query_topK10_hybrid: measure('rag_query', rag),
    rag_query_topK10_maxChars300: measure('rag_query', ragCut),
    dag_status_3_nodes: { runStatus: status.status, ...measure('dag_status', status) },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await app.close();
}
