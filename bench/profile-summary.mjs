#!/usr/bin/env node
/*
 * Summarizes V8 .cpuprofile files (from `node --cpu-prof`, e.g. BENCH_CPU_PROF=1 node
 * bench/run.mjs registry-get, which writes bench/results/prof/*.cpuprofile):
 * top functions by self time, and self time by package / source area.
 *
 *   node bench/profile-summary.mjs FILE.cpuprofile [--top 25] [--last-ms N]
 * --last-ms keeps only the samples of the last N ms before the profile ends (the load
 * phase, leaving start-up out). Percentages are of the busy (non-idle) time.
 * Prints JSON on stdout.
 */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';


function area(url) {
  if (!url) return '(native/vm)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node:internal';
  const dist = url.indexOf('/dist/src/');
  if (dist >= 0) return `app:${url.slice(dist + '/dist/src/'.length).split('/').slice(0, -1).join('/') || '.'}`;
  // The bundle mixes the app with zod, the MCP SDK and yaml: one area for all of it.
  if (url.includes('/dist/bundle/')) return 'app+sdk (dist/bundle)';
  if (url.includes('/bench/')) return 'bench';
  if (url.startsWith('wasm://')) return 'wasm (PGlite)';
  return url;
}

const IDLE = new Set(['(idle)']);

function frameKey(callFrame) {
  const name = callFrame.functionName || '(anonymous)';
  const where = callFrame.url ? `${callFrame.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${callFrame.lineNumber + 1}` : '';
  return `${name} ${where}`.trim();
}

/**
 * Self time by function and by area, inclusive time by function. The window is the last
 * `lastMs` ms, or [fromUs, toUs] in the profile's clock (CLOCK_MONOTONIC µs, the same
 * clock as process.hrtime in another process on Linux).
 */
export function summarizeProfile(profile, { top = 25, lastMs, fromUs, toUs } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map();
  const inclusive = new Map();
  const deltas = profile.timeDeltas ?? [];
  const from = fromUs ?? (lastMs === undefined ? -Infinity : profile.endTime - lastMs * 1000);
  const to = toUs ?? Infinity;
  let t = profile.startTime;
  let idleUs = 0;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // A sample's time delta is the time since the previous sample: charge it to this sample.
    const d = deltas[i] ?? 0;
    t += d;
    if (t < from || t > to) continue;
    windowUs += d;
    const id = profile.samples[i];
    if (IDLE.has(byId.get(id).callFrame.functionName)) {
      idleUs += d;
      continue;
    }
    selfUs.set(id, (selfUs.get(id) ?? 0) + d);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = frameKey(byId.get(at).callFrame);
      if (key === '(root)' || seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + d);
    }
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const functions = new Map();
  const areas = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const key = frameKey(callFrame);
    functions.set(key, (functions.get(key) ?? 0) + us);
    const a = area(callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const pct = (us) => Math.round((us / total) * 1000) / 10;
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    windowMs: Math.round(windowUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    busyMs: Math.round(total / 1000),
    topSelf: sorted(functions).slice(0, top).map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), pct: pct(us) })),
    byArea: sorted(areas).slice(0, top).map(([a, us]) => ({ area: a, ms: Math.round(us / 1000), pct: pct(us) })),
    topInclusive: sorted(inclusive).slice(0, top).map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), pct: pct(us) })),
    areaUs: Object.fromEntries(sorted(areas)),
  };
}

export function summarizeFile(file, options) {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), options);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, 'last-ms': { type: 'string' } } });
  if (positionals.length === 0) {
    process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N] [--last-ms N]\n');
    process.exit(2);
  }
  const options = { top: Number(values.top), lastMs: values['last-ms'] === undefined ? undefined : Number(values['last-ms']) };
  const out = {};
  for (const file of positionals) out[basename(file)] = summarizeFile(file, options);
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}
