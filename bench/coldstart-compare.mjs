/*
 * Stdio cold start of two checkouts, alternated
 * =============================================
 * Usage: node bench/coldstart-compare.mjs BEFORE_DIR AFTER_DIR [runs per round] [rounds]
 * Each checkout must be built (dist/); each runs its own package.json `bin`. For each
 * spawn: wall time from spawn() until the answer to `initialize` arrives on stdout, and the
 * process's CPU time (user + system, from /proc/<pid>/stat) at that moment; then, as a
 * client goes on, the time until `tools/list` is answered (the client sends it with
 * notifications/initialized once `initialize` is answered). `--data-dir memory://`, run in
 * the checkout's own directory (its config). Prints one JSON line per round and checkout:
 * the medians.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const [before, after, runsText = '5', roundsText = '2'] = process.argv.slice(2);
if (!before || !after) throw new Error('usage: node bench/coldstart-compare.mjs BEFORE_DIR AFTER_DIR [runs] [rounds]');
const TICKS_PER_SECOND = 100;
const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
};
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const initialize = `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'coldstart', version: '1' } } })}\n`;

const binOf = (root) => resolve(root, JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')).bin['mcp-level3']);

const listTools = `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`;

function once(root, bin) {
  const started = performance.now();
  const child = spawn(process.execPath, [bin, '--data-dir', 'memory://'], { cwd: root, stdio: ['pipe', 'pipe', 'ignore'] });
  return new Promise((done, fail) => {
    child.once('error', fail);
    const sample = {};
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (sample.ms === undefined && out.includes('"id":1')) {
        Object.assign(sample, { ms: performance.now() - started, cpuS: cpuSeconds(child.pid) });
        child.stdin.write(listTools);
      }
      if (out.includes('"id":2')) {
        sample.toolsListMs = performance.now() - started;
        child.kill('SIGKILL');
        done(sample);
      }
    });
    child.stdin.write(initialize);
  });
}

for (let round = 1; round <= Number(roundsText); round++) {
  for (const root of [before, after]) {
    const samples = [];
    const bin = binOf(root);
    for (let i = 0; i < Number(runsText); i++) samples.push(await once(root, bin));
    console.log(JSON.stringify({ round, root, runs: samples.length, medianMs: Math.round(median(samples.map((s) => s.ms))), medianCpuS: median(samples.map((s) => s.cpuS)), medianToolsListMs: Math.round(median(samples.map((s) => s.toolsListMs))) }));
  }
}
