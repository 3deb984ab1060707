#!/usr/bin/env node
/*
 * Summarizes V8 .cpuprofile files (from `node --cpu-prof`, e.g. BENCH_CPU_PROF=1 node
 * bench/run.mjs registry-get, which writes bench/results/prof/*.cpuprofile):
 * top functions by self time, and self time by package / source area.
 *
 *   node bench/profile-summary.mjs FILE.cpuprofile [--top 25]
 * Prints JSON on stdout.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length === 0) {
  process.stderr.write('usage: node bench/profile-summary.mjs FILE.cpuprofile [--top N]\n');
  process.exit(2);
}

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
  if (url.includes('/bench/')) return 'bench';
  return url;
}

export function summarizeProfile(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const functions = new Map();
  const areas = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = callFrame.url ? `${callFrame.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')}:${callFrame.lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    const a = area(callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const pct = (us) => Math.round((us / total) * 1000) / 10;
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: Math.round(total / 1000),
    topSelf: sorted(functions).slice(0, top).map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), pct: pct(us) })),
    byArea: sorted(areas).slice(0, top).map(([a, us]) => ({ area: a, ms: Math.round(us / 1000), pct: pct(us) })),
  };
}

const out = {};
for (const file of positionals) out[basename(file)] = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), Number(values.top));
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
