import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os'; import { join } from 'node:path';
import pino from 'pino';
import { App } from './dist/src/app.js';
import { ragIngest } from './dist/src/operations/rag.js';
const app = new App({ dataDir: mkdtempSync(join(tmpdir(), 'elu-')), logger: pino({ level: 'warn' }), env: process.env });
await app.services();
const docs = readFileSync('test/fixtures/licenses/corpus.jsonl','utf8').trim().split('\n').map(l=>JSON.parse(l)).map(d=>({id:d._id,title:d.title,text:d.text}));
const principal = { principal: { id: 'eval', scopes: ['*'] } };
import { readdirSync as rd } from 'node:fs';
function threads(){ const m=new Map(); for (const tid of rd('/proc/self/task')) { const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'); const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); m.set(tid,(Number(f[11]) + Number(f[12])) / 100);} return m; }
for (const coll of ['w1','w2']) {
const th0 = threads();
const e0 = performance.eventLoopUtilization(); const t=performance.now(); const c0=process.cpuUsage();
for (let i=0;i<docs.length;i+=200) {
  const ei = performance.eventLoopUtilization(); const ti=performance.now();
  await app.invoke(ragIngest, { collection: coll, documents: docs.slice(i,i+200) }, principal);
  const d = performance.eventLoopUtilization(ei); console.log('batch', i, 'ms', Math.round(performance.now()-ti), 'active', Math.round(d.active), 'idle', Math.round(d.idle));
}
const d = performance.eventLoopUtilization(e0); const c=process.cpuUsage(c0);
{ const th1=threads(); for (const [k,v] of th1) { const d=v-(th0.get(k)??0); if (d>0.02) console.log('during ingest', k, d.toFixed(2)); } }
console.log(coll, 'total ms', Math.round(performance.now()-t), 'active', Math.round(d.active), 'idle', Math.round(d.idle), 'proc cpu', Math.round((c.user+c.system)/1000));
}

import { readdirSync } from 'node:fs';
const hz = 100;
for (const tid of readdirSync('/proc/self/task')) {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8'); const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); const cpu = (Number(f[11]) + Number(f[12])) / hz;
  if (cpu > 0.02) console.log(tid, comm, cpu.toFixed(2));
}
await app.close();
