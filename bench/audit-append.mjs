#!/usr/bin/env node
/*
 * The audit append, prepared and not
 * ==================================
 *   npm run build && node bench/audit-append.mjs [--appends 500] [--rounds 6]   (DATABASE_URL adds PostgreSQL)
 * What a call made alone pays for its audit record: AuditLog.append one record at a time,
 * each awaited, on a migrated database: as the server runs it (its statement prepared once,
 * `prepare` in the SQL port) and through a port that drops `prepare` (parsed and planned every
 * time). Each variant has a database of its own (PGlite in a temp dir; PostgreSQL, with
 * DATABASE_URL, a throw-away database each); rounds alternate between them. Prints one JSON
 * line: per backend and variant, µs per append (wall, median of the rounds) and this process's
 * CPU µs per append (PGlite runs in it; PostgreSQL's server CPU is not counted).
 */
import { parseArgs } from 'node:util';
import { AuditLog } from '../dist/src/engines/governance/audit-log.js';
import { migrate } from '../dist/src/platform/sql/migrations.js';
import { openPglite } from '../dist/src/platform/sql/pglite-adapter.js';
import { openPostgres } from '../dist/src/platform/sql/postgres-adapter.js';
import { databaseUrlFromEnv, log, median, removeDir, round, tempDir, withFreshDatabase } from './lib.mjs';

const { values } = parseArgs({ options: { appends: { type: 'string', default: '500' }, rounds: { type: 'string', default: '6' } } });
const APPENDS = Number(values.appends);
const ROUNDS = Number(values.rounds);
const POOL = { min: 1, max: 4, acquireTimeoutMillis: 30_000, idleTimeoutMillis: 30_000 };

/** The same port without `prepare`: every statement parsed and planned. */
const unprepared = (sql) => ({ ...sql, query: (text, params) => sql.query(text, params) });

/** ports: {prepared, unprepared}, each a migrated SQL port on a database of its own. */
async function measure(backend, ports) {
  const variants = [];
  for (const [name, sql] of Object.entries(ports)) {
    await migrate(sql);
    variants.push({ name, log: new AuditLog(name === 'prepared' ? sql : unprepared(sql), 'full'), wallUs: [], cpuUs: [] });
  }
  const entry = { principal: 'bench', principalName: 'bench', operation: 'registry_get', outcome: 'ok', durationMs: 1, arguments: { name: 'acme/hello', version: '1.0.0' } };
  for (const v of variants) for (let i = 0; i < 100; i++) await v.log.append(entry);
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of variants) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      for (let i = 0; i < APPENDS; i++) await v.log.append(entry);
      v.wallUs.push(((performance.now() - started) * 1000) / APPENDS);
      const used = process.cpuUsage(cpu);
      v.cpuUs.push((used.user + used.system) / APPENDS);
    }
    log(`audit-append: ${backend} round ${r + 1}/${ROUNDS}`);
  }
  return Object.fromEntries(variants.map((v) => [v.name, { wallUsPerAppend: round(median(v.wallUs), 0), cpuUsPerAppend: round(median(v.cpuUs), 0), rounds: v.wallUs.map((x) => round(x, 0)) }]));
}

async function withPorts(open, fn) {
  const ports = { prepared: await open('prepared'), unprepared: await open('unprepared') };
  try {
    return await fn(ports);
  } finally {
    await Promise.all(Object.values(ports).map((sql) => sql.close()));
  }
}

const result = {};
const dirs = { prepared: tempDir('audit-prepared'), unprepared: tempDir('audit-unprepared') };
try {
  result.pglite = await withPorts((name) => openPglite(dirs[name]), (ports) => measure('pglite', ports));
} finally {
  Object.values(dirs).forEach(removeDir);
}
const url = databaseUrlFromEnv();
if (url) {
  result.postgres = await withFreshDatabase(url, 'audit_prepared', (prepared) =>
    withFreshDatabase(url, 'audit_unprepared', (unprepared) => withPorts((name) => openPostgres(name === 'prepared' ? prepared : unprepared, POOL), (ports) => measure('postgres', ports))),
  );
}
console.log(JSON.stringify(result));
