/*
 * Cold start over stdio
 * =====================
 * Spawns `node dist/bundle/cli.js --data-dir DIR` and speaks raw newline-delimited JSON-RPC
 * on its stdin/stdout:
 *   initialize (protocolVersion 2025-06-18) → result, then notifications/initialized,
 *   then (existing dir only) tools/call registry_list → result.
 * Times are from spawn() to the line arriving on stdout. With each answer the server's CPU
 * time so far (user + system, from /proc/<pid>/stat) is read too: other processes on the
 * machine stretch the wall time, much less the CPU time.
 *   - new data dir:      a fresh empty temp dir per run (the embedded database is created
 *                        in the background; the process is killed after initialize).
 *   - existing data dir: one dir prepared before the runs (database created and migrated).
 * Targets (judged on the median of the runs; the max is reported as maxWithinTarget):
 * initialize ≤ 300 ms on both dirs (issue 18); first tool result ≤ 1000 ms on an existing dir.
 */
import { readFileSync } from 'node:fs';
import { CLI, childEnv, log, median, PROTOCOL_VERSION, removeDir, round, spawnTracked, stopChild, tempDir } from './lib.mjs';

const TICKS_PER_SECOND = 100;
/** CPU ms (user + system) a process has used so far; undefined once it is gone. */
function cpuMsOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

const INITIALIZE_TARGET_MS = 300;
const FIRST_TOOL_TARGET_MS = 1000;

/** pass: the median meets the target; maxWithinTarget: every run did. */
function target(targetMs, values) {
  const med = median(values);
  const max = Math.max(...values);
  return { targetMs, medianMs: round(med, 1), maxMs: round(max, 1), pass: med <= targetMs, maxWithinTarget: max <= targetMs, overByMs: med > targetMs ? round(med - targetMs, 1) : 0 };
}

/** A stdio session: spawn, send requests, await responses by id, time them from spawn. */
export function startStdio(dataDir, nodeFlags = []) {
  const spawnedAt = performance.now();
  const child = spawnTracked(process.execPath, [...nodeFlags, CLI, '--data-dir', dataDir], { env: childEnv() });
  const waiting = new Map();
  const arrivals = new Map();
  const cpuAt = new Map();
  let buffer = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const now = performance.now();
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (!line) continue;
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        child.emit('protocol-error', new Error(`non-JSON line on stdout: ${line.slice(0, 200)}`));
        continue;
      }
      if (message.id !== undefined && waiting.has(message.id)) {
        arrivals.set(message.id, now - spawnedAt);
        cpuAt.set(message.id, cpuMsOf(child.pid));
        waiting.get(message.id)(message);
        waiting.delete(message.id);
      }
    }
  });
  const exited = child.exited.then(({ code, signal }) => {
    for (const [id, settle] of waiting) settle({ id, error: { message: `server exited (${code ?? signal}) before answering; stderr:\n${child.stderrTail}` } });
    waiting.clear();
  });
  void exited;
  const send = (message) => child.stdin.write(`${JSON.stringify(message)}\n`);
  const request = (id, method, params) =>
    new Promise((resolveRequest) => {
      waiting.set(id, resolveRequest);
      send({ jsonrpc: '2.0', id, method, params });
    }).then((message) => {
      if (message.error) throw new Error(`${method}: ${JSON.stringify(message.error)}`);
      return { message, ms: arrivals.get(id) };
    });
  return { child, send, request, spawnedAt, cpuMsAt: (id) => cpuAt.get(id) };
}

export async function initialize(session) {
  const init = await session.request(1, 'initialize', {
    protocolVersion: PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'mcp-level3-bench', version: '0.0.0' },
  });
  if (init.message.result?.protocolVersion !== PROTOCOL_VERSION) throw new Error(`initialize answered ${JSON.stringify(init.message).slice(0, 300)}`);
  session.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return init.ms;
}

export async function firstToolResult(session) {
  const call = await session.request(2, 'tools/call', { name: 'registry_list', arguments: {} });
  if (call.message.result?.isError) throw new Error(`registry_list isError: ${JSON.stringify(call.message.result.content)}`);
  return call.ms;
}

/** Graceful stop (stdin closed, as a client would); SIGKILL if it takes more than 15 s. */
export async function closeSession(session) {
  session.child.stdin.end();
  const timer = setTimeout(() => session.child.kill('SIGKILL'), 15_000);
  const result = await session.child.exited;
  clearTimeout(timer);
  return result;
}

export async function run({ runs = 5 } = {}) {
  const dirs = [];
  try {
    // Warm the OS file cache and the compile cache paths once; not recorded.
    log('coldstart: warm-up spawn (not recorded)');
    {
      const dir = tempDir('warm');
      dirs.push(dir);
      const s = startStdio(dir);
      await initialize(s);
      await stopChild(s.child, 'SIGKILL');
    }

    // Baseline: how long node alone takes to start and exit on this machine (context only).
    const nodeOnly = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const c = spawnTracked(process.execPath, ['-e', '0'], { stdio: 'ignore' });
      await c.exited;
      nodeOnly.push(performance.now() - t0);
    }

    const newDirInit = [];
    const newDirInitCpu = [];
    for (let i = 0; i < runs; i++) {
      const dir = tempDir('new');
      dirs.push(dir);
      const s = startStdio(dir);
      const ms = await initialize(s);
      newDirInit.push(ms);
      newDirInitCpu.push(s.cpuMsAt(1));
      log(`coldstart: new data dir run ${i + 1}/${runs}: initialize ${ms.toFixed(1)} ms (CPU ${s.cpuMsAt(1)} ms)`);
      // The database is still being created in the background; nobody will use this dir again.
      await stopChild(s.child, 'SIGKILL');
    }

    // Prepare the existing data dir: first start creates and migrates the database.
    const existing = tempDir('existing');
    dirs.push(existing);
    log('coldstart: preparing the existing data dir (first start creates the database)');
    const prep = startStdio(existing);
    const prepInit = await initialize(prep);
    const prepTool = await firstToolResult(prep);
    log(`coldstart: preparation: initialize ${prepInit.toFixed(1)} ms, first registry_list ${prepTool.toFixed(1)} ms (new dir, informational)`);
    await closeSession(prep);

    const existingInit = [];
    const existingTool = [];
    const existingInitCpu = [];
    const existingToolCpu = [];
    for (let i = 0; i < runs; i++) {
      const s = startStdio(existing);
      const initMs = await initialize(s);
      const toolMs = await firstToolResult(s);
      existingInit.push(initMs);
      existingTool.push(toolMs);
      existingInitCpu.push(s.cpuMsAt(1));
      existingToolCpu.push(s.cpuMsAt(2));
      log(`coldstart: existing data dir run ${i + 1}/${runs}: initialize ${initMs.toFixed(1)} ms (CPU ${s.cpuMsAt(1)} ms), first registry_list ${toolMs.toFixed(1)} ms (CPU ${s.cpuMsAt(2)} ms)`);
      const { code, signal } = await closeSession(s);
      if (code !== 0) log(`coldstart: server exited with ${code ?? signal} after stdin closed`);
    }

    const stat = (values) => ({ median: round(median(values), 1), max: round(Math.max(...values), 1), runs: values.map((v) => round(v, 1)) });
    const cpuStat = (values) => (values.every((v) => v !== undefined) ? stat(values) : null);
    const result = {
      description: 'stdio server: ms from spawn to the initialize result / first tools/call registry_list result; *CpuMs: the server\'s CPU time (user + system) at that moment',
      nodeStartupMs: stat(nodeOnly),
      newDataDir: { initializeMs: stat(newDirInit), initializeCpuMs: cpuStat(newDirInitCpu) },
      existingDataDir: { initializeMs: stat(existingInit), initializeCpuMs: cpuStat(existingInitCpu), firstToolResultMs: stat(existingTool), firstToolResultCpuMs: cpuStat(existingToolCpu) },
      firstStartOnNewDir: { initializeMs: round(prepInit, 1), firstToolResultMs: round(prepTool, 1), note: 'includes creating the embedded database; no target' },
      targets: {
        initializeNewDir: target(INITIALIZE_TARGET_MS, newDirInit),
        initializeExistingDir: target(INITIALIZE_TARGET_MS, existingInit),
        firstToolExistingDir: target(FIRST_TOOL_TARGET_MS, existingTool),
      },
    };
    result.pass = Object.values(result.targets).every((t) => t.pass);
    return result;
  } finally {
    for (const dir of dirs) removeDir(dir);
  }
}
