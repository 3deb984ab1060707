#!/usr/bin/env node
// Sends malformed and hostile messages to /mcp, /api/v1/rpc and the REST routes of a
// running server: bad JSON, wrong types, huge ids and strings, deep nesting, unknown
// methods, random mutations of valid calls, spoofed X-Forwarded-* headers, batches at and
// over the limit, and subscriptions/listen naming hostile or too many resources. Every answer must come within a deadline
// and be below 500, and the server must still answer /health at the end.
//
//   node fuzz/malformed.mjs http://127.0.0.1:PORT [--cases N] [--seed S]
//
// Prints one line per target ("PASS|FAIL target: n cases, ...") on stderr and a JSON
// summary {passed, failed, targets} as the last stdout line. Exits 1 when a target failed.
import { request } from 'node:http';

const args = process.argv.slice(2);
const origin = args[0];
if (!origin) {
  console.error('usage: node fuzz/malformed.mjs http://127.0.0.1:PORT [--cases N] [--seed S]');
  process.exit(2);
}
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const CASES = option('--cases', 200);
let seed = option('--seed', 1) >>> 0 || 1;
const DEADLINE_MS = 15_000;

// xorshift32: reproducible from --seed
function random() {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 0x100000000;
}
const pick = (items) => items[Math.floor(random() * items.length)];
const int = (max) => Math.floor(random() * max);

function send(path, { method = 'POST', body, headers = {}, whole = false } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const req = request(
      `${origin}${path}`,
      {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...headers },
        timeout: DEADLINE_MS,
      },
      (res) => {
        let size = 0;
        let text = '';
        res.on('data', (chunk) => {
          size += chunk.length;
          if (whole || text.length < 4096) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode, ms: Date.now() - started, size, text }));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: 0, error: `no answer within ${DEADLINE_MS} ms` });
    });
    req.on('error', (error) => resolve({ status: 0, error: error.message }));
    req.end(body);
  });
}

const HUGE_STRING = 'x'.repeat(2 * 1024 * 1024);
const deep = (n) => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObject = (n) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const nested = (n) => (n === 0 ? 1 : { a: nested(n - 1) });
const RANDOM_VALUES = () => [
  null,
  true,
  0,
  -1,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  0.5,
  '',
  'a'.repeat(int(5000)),
  '\u0000\uffff\ud800',
  '../../etc/passwd',
  "'; drop table registry_artifacts; --",
  '%00%ff',
  [],
  [1, 'two', null],
  {},
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
  nested(30),
];

/** Fixed hostile bodies any JSON endpoint must refuse cleanly. */
const RAW_BODIES = [
  '',
  '{',
  '{"jsonrpc": "2.0", "id": 1, "method":',
  'null',
  '42',
  '"string"',
  '[]',
  '[[[]]]',
  '\u0000\u0001\u0002',
  Buffer.from([0xff, 0xfe, 0xfd, 0x80, 0x81]),
  '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'.repeat(3),
  deep(100_000),
  deepObject(70),
  `{"jsonrpc":"2.0","id":"${HUGE_STRING}","method":"ping"}`,
  '{"jsonrpc":"2.0","id":123456789012345678901234567890123456789,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
  `{"jsonrpc":"2.0","id":1,"method":"ping","params":${deepObject(60)}}`,
  '{"__proto__":{"polluted":true},"jsonrpc":"2.0","id":1,"method":"tools/list"}',
];

function jsonRpcCase(methods) {
  const kind = int(8);
  const id = pick([1, 'x', null, 1e308, -0, 'y'.repeat(int(100_000)), { nested: 1 }, [1], true, undefined]);
  const method = kind === 0 ? pick([42, null, '', 'x'.repeat(10_000), 'rpc.discover', '../../', 'constructor', '__proto__']) : pick(methods);
  const params = kind === 1 ? pick(['string', 42, [1, 2], null, true]) : mutate(pick(methods));
  const message = { jsonrpc: kind === 2 ? pick(['1.0', 2, null]) : '2.0', method, params };
  if (id !== undefined) message.id = id;
  if (kind === 3) return JSON.stringify(Array.from({ length: int(150) }, () => message));
  if (kind === 4) return JSON.stringify(message).slice(0, int(200));
  return JSON.stringify(message);
}

const VALID_ARGS = {
  registry_publish: { name: 'fuzz/a', version: '1.0.0', content: 'x' },
  registry_get: { name: 'fuzz/a', version: '1.0.0' },
  registry_list: {},
  registry_yank: { name: 'fuzz/a', version: '1.0.0', reason: 'fuzz' },
  rag_ingest: { collection: 'fuzz', documents: [{ id: 'a', text: 'hello' }] },
  rag_query: { collection: 'fuzz', query: 'hello' },
  rag_delete: { collection: 'fuzz', ids: ['a'] },
  rag_collections: {},
  validation_register_schema: { id: 'fuzz', schema: { type: 'object' } },
  validation_validate: { schemaId: 'fuzz', document: {} },
  validation_list_schemas: {},
};

/** A valid-looking argument object with one field replaced by a random value. */
function mutate(name) {
  const base = { ...(VALID_ARGS[name] ?? { anything: 1 }) };
  const keys = Object.keys(base);
  const key = keys.length > 0 && random() < 0.8 ? pick(keys) : pick(['unknown', '__proto__', 'constructor', 'x'.repeat(1000)]);
  base[key] = pick(RANDOM_VALUES());
  return base;
}

/**
 * Programs users may supply, in the shapes that once stalled the server (issue 17): JSONata
 * that recurses forever or too deep, catastrophic regexes in JSONata and JSON Schema, a CEL
 * policy of nested comprehensions, http_request to the metadata address. Each call must be
 * answered (a failed run or a refusal), and /health must answer while the runaway runs.
 */
const l30 = `[${Array.from({ length: 30 }, (_, i) => i).join(',')}]`;
const nestedAll = (range, depth) => (depth === 0 ? 'true' : `${range}.all(x${depth}, ${nestedAll(range, depth - 1)})`);
const HOSTILE_CALLS = [
  ['dag_run', { wait: true, definition: { name: 'fuzz/spin', nodes: [{ id: 'spin', action: 'transform', input: '=($f := function($n){ $f($n + 1) }; $f(0))' }] } }],
  ['dag_run', { wait: true, definition: { name: 'fuzz/deep', nodes: [{ id: 'deep', action: 'transform', input: '=($f := function($n){ 1 + $f($n + 1) }; $f(0))' }] } }],
  ['dag_run', { wait: true, definition: { name: 'fuzz/when', nodes: [{ id: 'w', action: 'noop', when: '$count([1..10000000].($ * 2)) > 0' }] } }],
  ['dag_run', { wait: true, definition: { name: 'fuzz/redos', nodes: [{ id: 'r', action: 'transform', input: `=$match("${'a'.repeat(40)}!", /^(a+)+$/)` }] } }],
  ['dag_run', { wait: true, definition: { name: 'fuzz/meta', nodes: [{ id: 'm', action: 'http_request', input: { url: 'http://169.254.169.254/latest/meta-data/' } }] } }],
  ['validation_register_schema', { id: 'fuzz/redos', schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } }, patternProperties: { '^(b+)+$': {} } } }],
  ['validation_validate', { schemaId: 'fuzz/redos', value: { s: `${'a'.repeat(40)}!`, [`${'b'.repeat(40)}!`]: 1 } }],
  ['validation_register_schema', { id: 'fuzz/backref', schema: { type: 'string', pattern: '^(a)\\1(?=b)$' } }],
  ['governance_set_policy', { id: 'fuzz-literal', target: 'fuzz_target', expression: nestedAll(l30, 6), effect: 'deny', message: 'fuzz' }],
  ['governance_set_policy', { id: 'fuzz-dynamic', target: 'fuzz_target', expression: `!(${nestedAll('request.items', 6)})`, effect: 'deny', message: 'fuzz' }],
  ['governance_check', { target: 'fuzz_target', input: { request: { items: Array.from({ length: 30 }, (_, i) => i) } } }],
];

function hostileCases() {
  return HOSTILE_CALLS.map(([method, params], i) => async () => {
    const label = `json-rpc hostile program #${i} (${method})`;
    const call = send('/api/v1/rpc', { body: JSON.stringify({ jsonrpc: '2.0', id: i, method, params }) });
    if (method !== 'dag_run') return { label, response: await call };
    // While a program runs, the server answers others.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const health = await send('/health', { method: 'GET' });
    const response = await call;
    if (health.status !== 200) return { label: `${label}: /health while it ran`, response: { status: 0, error: `/health answered ${health.status || health.error}` } };
    return { label, response };
  });
}

async function target(name, cases) {
  const failures = [];
  let count = 0;
  for (const run of cases) {
    const { label, response } = await run();
    count++;
    if (response.status === 0 || response.status >= 500) failures.push(`${label}: ${response.error ?? `HTTP ${response.status} ${response.text.slice(0, 200)}`}`);
  }
  return { name, cases: count, failures };
}

async function main() {
  const health = await send('/health', { method: 'GET' });
  if (health.status !== 200) {
    console.error(`fuzz: ${origin}/health answered ${health.status || health.error}; is the server running?`);
    process.exit(2);
  }
  const doc = JSON.parse((await send('/api/docs/openapi.json', { method: 'GET', whole: true })).text);
  const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, entry]) => ({ path, method: method.toUpperCase(), id: entry.operationId })));
  const operations = routes.filter((r) => r.id !== 'jsonrpc');
  const methods = operations.map((r) => r.id);
  const mcpMethods = ['initialize', 'tools/list', 'tools/call', 'resources/list', 'resources/read', 'prompts/get', 'completion/complete', 'logging/setLevel', 'ping', 'no/such/method'];

  const raw = (path) => RAW_BODIES.map((body, i) => async () => ({ label: `${path} raw body #${i}`, response: await send(path, { body }) }));
  const generated = (path, make, n) => Array.from({ length: n }, (_, i) => async () => {
    const body = make();
    return { label: `${path} case ${i}: ${String(body).slice(0, 120)}`, response: await send(path, { body }) };
  });
  const mcpCase = () => {
    const method = pick(mcpMethods);
    const params =
      method === 'tools/call'
        ? { name: pick([...methods, 'nope', 42, null]), arguments: random() < 0.2 ? pick(['x', 1, [1]]) : mutate(pick(methods)) }
        : method === 'resources/read'
          ? { uri: pick(['registry://artifacts/%ZZ/1', 'registry://artifacts/a%2Fb/../../x', 'rag://documents/x/y', 'file:///etc/passwd', 'x'.repeat(10_000), 42]) }
          : method === 'initialize'
            ? { protocolVersion: pick(['2025-06-18', '1999-01-01', 42, null]), capabilities: pick([{}, null, 'x']), clientInfo: pick([{ name: 'f', version: '1' }, null, 7]) }
            : pick([{}, null, 'x', [1], mutate('registry_list')]);
    return JSON.stringify({ jsonrpc: '2.0', id: pick([1, 'a', null, 1e308, 'z'.repeat(50_000)]), method, params });
  };
  const restCases = operations.map((route) => async () => {
    const args = mutate(route.id);
    if (route.method === 'GET') {
      const query = Object.entries(args)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent((typeof v === 'string' ? v : JSON.stringify(v) ?? '').toWellFormed())}`)
        .join('&');
      return { label: `GET ${route.path}?${query.slice(0, 100)}`, response: await send(`${route.path}?${query}`, { method: 'GET' }) };
    }
    return { label: `POST ${route.path}`, response: await send(route.path, { body: JSON.stringify(args) }) };
  });
  const restRounds = Math.max(1, Math.ceil(CASES / Math.max(1, operations.length)));

  // Issue 17: spoofed forwarding headers, batches at and over the limits, and
  // subscriptions/listen naming hostile or too many resources (each refused, so it ends).
  const FORWARDED = ['not-an-address', '999.999.999.999', '1.2.3.4, '.repeat(1000), '::ffff:127.0.0.1', '[::1]:80', ', , ,', 'unknown', '127.0.0.1\u0000', 'a'.repeat(8000), '10.0.0.1, 169.254.169.254'];
  const call = (i) => ({ jsonrpc: '2.0', id: i, method: 'registry_list', params: {} });
  const listen = (uris) => JSON.stringify({ jsonrpc: '2.0', id: 'l1', method: 'subscriptions/listen', params: { notifications: { resourceSubscriptions: uris } } });
  const trustCases = [
    ...FORWARDED.flatMap((value) => [
      async () => ({ label: `x-forwarded-for ${JSON.stringify(value.slice(0, 40))}`, response: await send('/api/v1/registry/list', { method: 'GET', headers: { 'x-forwarded-for': value.replace('\u0000', '') } }) }),
      async () => ({ label: `x-forwarded-proto ${JSON.stringify(value.slice(0, 40))}`, response: await send('/.well-known/oauth-protected-resource', { method: 'GET', headers: { 'x-forwarded-proto': value.replace('\u0000', ''), 'x-forwarded-for': value.replace('\u0000', '') } }) }),
    ]),
    async () => ({ label: 'json-rpc batch of 100 calls', response: await send('/api/v1/rpc', { body: JSON.stringify(Array.from({ length: 100 }, (_, i) => call(i))) }) }),
    async () => ({ label: 'json-rpc batch of 101 calls', response: await send('/api/v1/rpc', { body: JSON.stringify(Array.from({ length: 101 }, (_, i) => call(i))) }) }),
    async () => ({ label: 'mcp batch of 100 messages', response: await send('/mcp', { body: JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'tools/list' }))) }) }),
    async () => ({ label: 'mcp batch of 101 messages', response: await send('/mcp', { body: JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }))) }) }),
    ...[['dag://runs/nope'], ['file:///etc/passwd'], ['dag://runs/%ZZ'], ['dag://workflows/'.padEnd(5000, 'x')], Array.from({ length: 300 }, (_, i) => `dag://runs/${i}`)].map((uris) => async () => ({
      label: `subscriptions/listen ${JSON.stringify(uris).slice(0, 60)}`,
      response: await send('/mcp', { body: listen(uris), headers: { 'mcp-protocol-version': '2026-07-28' } }),
    })),
  ];

  const results = [
    await target('mcp: hostile bodies', raw('/mcp')),
    await target('mcp: generated messages', generated('/mcp', mcpCase, CASES)),
    await target('json-rpc: hostile bodies', raw('/api/v1/rpc')),
    await target('json-rpc: generated messages', generated('/api/v1/rpc', () => jsonRpcCase(methods), CASES)),
    await target('rest: mutated inputs', Array.from({ length: restRounds }, () => restCases).flat()),
    await target('rest: hostile bodies', operations.filter((r) => r.method === 'POST').flatMap((r) => raw(r.path))),
    await target('json-rpc: hostile programs', hostileCases()),
    await target('trust: forwarded headers, batches, subscriptions', trustCases),
  ];
  const after = await send('/health', { method: 'GET' });
  results.push({ name: 'server still healthy', cases: 1, failures: after.status === 200 ? [] : [`/health answered ${after.status || after.error}`] });

  for (const r of results) {
    console.error(`${r.failures.length === 0 ? 'PASS' : 'FAIL'} ${r.name}: ${r.cases} cases${r.failures.length ? `, ${r.failures.length} failed` : ''}`);
    for (const f of r.failures.slice(0, 5)) console.error(`    ${f}`);
  }
  const failed = results.filter((r) => r.failures.length > 0).length;
  console.log(JSON.stringify({ passed: results.length - failed, failed, targets: results.map((r) => ({ name: r.name, cases: r.cases, failures: r.failures.slice(0, 20) })) }));
  process.exit(failed > 0 ? 1 : 0);
}

await main();
