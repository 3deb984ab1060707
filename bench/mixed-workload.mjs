/*
 * The mixed MCP workload shared by `npm run load` and `npm run soak`
 * ==================================================================
 * Over MCP streamable HTTP (tools/call, stateless), authenticated with an API key, picked at
 * random per request: 35% rag_query hybrid (the license set's queries), 35% registry_get,
 * 10% registry_publish (a new version each time), 10% small rag_ingest, 10% small dag_run
 * (when the server has the dag toolset; its share goes to the reads otherwise).
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { AUTH_ENV, freePort, MCP_POST_HEADERS, McpHttpClient, mulberry32, percentile, removeDir, round, ROOT, sleep, startOurHttpServer, stopChild, tempDir } from './lib.mjs';

const fixture = join(ROOT, 'test', 'fixtures', 'licenses');
export const corpus = readFileSync(join(fixture, 'corpus.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
export const queries = readFileSync(join(fixture, 'queries.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line).text);
export const ARTIFACTS = 100;
let sequence = 0;
export const nextSequence = () => sequence++;
export const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** The argument makers of each operation of the mix; `prefix` keeps written names apart. */
export function operations(hasDag, prefix = 'load') {
  return {
    rag_query: () => ({ collection: 'load', query: pick(queries), topK: 10 }),
    registry_get: () => ({ name: `load/a${Math.floor(Math.random() * ARTIFACTS)}`, version: '1.0.0' }),
    registry_publish: () => ({ name: `${prefix}/writes`, version: `1.0.${sequence++}`, content: `written ${Date.now()}`, mediaType: 'text/plain' }),
    rag_ingest: () => ({ collection: `${prefix}-writes`, documents: [{ id: `d${process.pid}-${sequence++}`, text: pick(corpus).text.slice(0, 600) }] }),
    ...(hasDag ? { dag_run: () => ({ definition: { name: 'load', nodes: [{ id: 'a', action: 'noop' }, { id: 'b', action: 'noop', dependsOn: ['a'] }] } }) } : {}),
  };
}

/** A picker of {tool, args} in the proportions above. */
export function workload(hasDag) {
  const make = operations(hasDag);
  const readShare = 0.35 + (hasDag ? 0 : 0.05);
  const mix = [
    [readShare, 'rag_query'],
    [readShare, 'registry_get'],
    [0.1, 'registry_publish'],
    [0.1, 'rag_ingest'],
    ...(hasDag ? [[0.1, 'dag_run']] : []),
  ];
  return () => {
    let r = Math.random();
    for (const [weight, tool] of mix) {
      if ((r -= weight) < 0) return { tool, args: make[tool]() };
    }
    return { tool: 'rag_query', args: make.rag_query() };
  };
}

function rpcBody(tool, toolArgs) {
  return JSON.stringify({ jsonrpc: '2.0', id: sequence++, method: 'tools/call', params: { name: tool, arguments: toolArgs } });
}

/** A JSON-RPC error or an isError tool result in a /mcp response body (JSON or SSE). */
function failureIn(body) {
  const text = body.includes('data:') ? body.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).join('') : body;
  try {
    const message = JSON.parse(text);
    if (message.error) return message.error.message ?? 'JSON-RPC error';
    if (message.result?.isError) return message.result.content?.[0]?.text ?? 'tool error';
    return undefined;
  } catch {
    return `unparseable response: ${text.slice(0, 120)}`;
  }
}

/**
 * Against POST /mcp: closed loop with `connections` in flight (autocannon), or open loop at
 * `rate` calls/s (openLoop). `onLatency` (optional) sees each response time in ms as it comes.
 */
export function runLoad({ rate, ...options }) {
  return rate ? openLoop({ rate, ...options }) : closedLoop(options);
}

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Open loop: rate × durationS calls at times drawn uniformly over the window and sorted (a
 * Poisson process with that many arrivals), each sent when its time comes whatever is still
 * in flight, its latency counted from that time (so a client that falls behind adds to it,
 * rather than hiding the server's queue). autocannon's own rate limit sends each second's
 * quota at once at the start of the second, which measured how a burst drains, not a rate.
 */
async function openLoop({ port, next, apiKey, durationS, rate, onLatency }) {
  const count = Math.round(rate * durationS);
  // Seeded by the count: the same arrival times for the same step, run after run.
  const random = mulberry32(count);
  const offsets = Array.from({ length: count }, () => random() * durationS * 1000).sort((a, b) => a - b);
  const client = new McpHttpClient(port, { maxSockets: Infinity, timeoutMs: REQUEST_TIMEOUT_MS });
  client.headers = { 'x-api-key': apiKey };
  const latencies = [];
  const errors = {};
  let socketErrors = 0;
  let timeouts = 0;
  const inFlight = [];
  const started = performance.now();
  for (const offset of offsets) {
    const due = started + offset;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const { tool, args: toolArgs } = next();
    const answered = () => {
      const ms = performance.now() - due;
      latencies.push(ms);
      onLatency?.(ms);
    };
    inFlight.push(
      client.callTool(tool, toolArgs).then(answered, (error) => {
        if (error.code === 'ETIMEDOUT') timeouts++;
        else if (error.code) socketErrors++;
        else {
          // An answer that failed: an HTTP status, a JSON-RPC error or an isError result.
          answered();
          const key = `${tool}: ${error.message.slice(0, 100)}`;
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }),
    );
  }
  await Promise.all(inFlight);
  client.close();
  return summary({ rate, durationS, latencies, errors, socketErrors, timeouts });
}

function summary({ rate, durationS, latencies, errors, socketErrors, timeouts }) {
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0) + socketErrors + timeouts;
  return {
    offeredRate: rate ?? null,
    requests: latencies.length,
    throughput: round(latencies.length / durationS, 1),
    p50: round(percentile(latencies, 50), 1),
    p95: round(percentile(latencies, 95), 1),
    p99: round(percentile(latencies, 99), 1),
    errors: errorCount,
    ...(errorCount ? { errorKinds: errors, socketErrors, timeouts } : {}),
  };
}

async function closedLoop({ port, next, apiKey, connections, durationS, onLatency }) {
  const latencies = [];
  const errors = {};
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: durationS,
    requests: [
      {
        method: 'POST',
        path: '/mcp',
        headers: { ...MCP_POST_HEADERS, 'x-api-key': apiKey },
        setupRequest(request, context) {
          const { tool, args: toolArgs } = next();
          context.tool = tool;
          return { ...request, body: rpcBody(tool, toolArgs) };
        },
        onResponse(status, body, context) {
          const failure = status !== 200 ? `HTTP ${status}` : failureIn(body);
          if (failure) {
            const key = `${context.tool}: ${failure.slice(0, 100)}`;
            errors[key] = (errors[key] ?? 0) + 1;
          }
        },
      },
    ],
  });
  instance.on('response', (_client, _status, _bytes, responseTime) => {
    latencies.push(responseTime);
    onLatency?.(responseTime);
  });
  const result = await instance;
  return summary({ durationS, latencies, errors, socketErrors: result.errors, timeouts: result.timeouts });
}

/** Spreads connections over the replicas in turn, as a Kubernetes Service does. */
export async function roundRobin(ports) {
  const port = await freePort();
  let turn = 0;
  const server = createServer((socket) => {
    const upstream = connect(ports[turn++ % ports.length], '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    const close = () => {
      socket.destroy();
      upstream.destroy();
    };
    socket.on('error', close);
    upstream.on('error', close);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The license corpus in collection "load" and ARTIFACTS artifacts; says whether dag_run exists. */
export async function seed(client) {
  const tools = (await client.rpc('tools/list', {})).result.tools.map((t) => t.name);
  for (let i = 0; i < corpus.length; i += 50) {
    await client.callTool('rag_ingest', { collection: 'load', documents: corpus.slice(i, i + 50).map((d) => ({ id: d._id, title: d.title, text: d.text })) });
  }
  for (let i = 0; i < ARTIFACTS; i++) {
    await client.callTool('registry_publish', { name: `load/a${i}`, version: '1.0.0', content: `artifact ${i}`, mediaType: 'text/plain' });
  }
  return { hasDag: tools.includes('dag_run') };
}

/**
 * `replicas` HTTP servers on one database and Redis, each client sending the API key, behind
 * the round-robin balancer when there are several. `close()` stops them and removes their dirs.
 */
export async function startReplicas({ replicas, databaseUrl, redisUrl, apiKey }) {
  const servers = [];
  const dataDirs = [];
  const close = async () => {
    for (const s of servers) {
      s.client.close();
      await stopChild(s.child);
    }
    dataDirs.forEach(removeDir);
  };
  try {
    for (let i = 0; i < replicas; i++) {
      const dataDir = tempDir(`replica${i}`);
      dataDirs.push(dataDir);
      const server = await startOurHttpServer({ dataDir, databaseUrl, redisUrl, extraEnv: AUTH_ENV, label: `replica ${i + 1}` });
      server.client.headers = { 'x-api-key': apiKey };
      servers.push(server);
    }
    const balancer = replicas > 1 ? await roundRobin(servers.map((s) => s.port)) : { port: servers[0].port, close: async () => undefined };
    return {
      servers,
      port: balancer.port,
      async close() {
        await balancer.close();
        await close();
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}
