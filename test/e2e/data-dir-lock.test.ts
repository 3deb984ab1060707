/*
 * The data directory lock (issue 17, row 5): held by the operating system, so processes
 * racing for a directory whose last holder died leave exactly one holder, every time; a
 * second server exits non-zero saying who holds it; no HTTP response names the directory
 * or the holder's pid.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { LOCK_FILE } from '../../src/platform/data-dir-lock.js';
import { createHttpApp } from '../../src/server/http-app.js';
import { runCli, startHttpServer } from '../helpers/cli.js';

const LOCK_MODULE = resolve('dist/src/platform/data-dir-lock.js');

// Says "ready" once loaded; on "go" takes the lock and says "held" or "busy" (or "error
// ..."), then keeps it until stdin ends. The go signal lines the racers up: their attempts
// fall within a millisecond or so, where process start-up alone would spread them out.
const CONTENDER = `
const { lockDataDir, DataDirLockedError } = await import(${JSON.stringify(LOCK_MODULE)});
process.stdout.write('ready\\n');
process.stdin.once('data', () => {
  let answer;
  try { lockDataDir(process.argv[1]); answer = 'held'; }
  catch (error) { answer = error instanceof DataDirLockedError ? 'busy' : 'error ' + error.message; }
  process.stdout.write(answer + '\\n');
});
process.stdin.on('end', () => process.exit(0));
`;

interface Contender {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<unknown>;
  /** Tells it to take the lock; resolves to its answer. */
  go(): Promise<string>;
  exited: Promise<unknown>;
}

function contend(dir: string): Contender {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CONTENDER, dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    for (let at = buffered.indexOf('\n'); at !== -1; at = buffered.indexOf('\n')) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const exited = new Promise((done) => child.once('exit', done));
  child.once('exit', () => {
    for (const waiter of waiting.splice(0)) waiter('exited');
  });
  const next = () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise<string>((done) => waiting.push(done)));
  const ready = next();
  return {
    child,
    ready,
    go: async () => {
      await ready;
      child.stdin.write('go\n');
      return next();
    },
    exited,
  };
}

/** The pid of a process that has ended: what a crashed server leaves in a pid file. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((done) => child.once('exit', done));
  return child.pid!;
}

describe('data directory lock', () => {
  it('leaves exactly one holder when three processes race for a directory with a stale lock file, every time', async () => {
    const stale = await deadPid();
    for (let round = 0; round < 20; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'mcp-lock-race-'));
      writeFileSync(join(dir, LOCK_FILE), `${stale}\n`);
      writeFileSync(join(dir, 'mcp-level3.pid'), `${stale}\n`); // what earlier versions left
      const contenders = [contend(dir), contend(dir), contend(dir)];
      await Promise.all(contenders.map((c) => c.ready));
      const answers = await Promise.all(contenders.map((c) => c.go()));
      for (const c of contenders) c.child.stdin.end();
      await Promise.all(contenders.map((c) => c.exited));
      expect(answers.sort(), `round ${round}`).toEqual(['busy', 'busy', 'held']);
    }
  });

  it('is free again once its holder is killed (kill -9), and while held, busy for everyone else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-lock-kill-'));
    const first = contend(dir);
    expect(await first.go()).toBe('held');
    const second = contend(dir);
    expect(await second.go()).toBe('busy');
    second.child.stdin.end();
    await second.exited;
    first.child.kill('SIGKILL');
    await first.exited;
    const third = contend(dir);
    expect(await third.go()).toBe('held');
    third.child.stdin.end();
    await third.exited;
  });

  it('stops a second server on a live data dir, non-zero, naming the directory and the holder on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-lock-cli-'));
    const owner = await startHttpServer(['--data-dir', dir]);
    try {
      const http = await runCli(['http', '--port', '0', '--data-dir', dir]);
      expect(http.code).toBe(1);
      expect(http.stderr).toContain(`data dir ${resolve(dir)} is in use by process ${owner.process.pid}`);
      expect(http.stderr).toContain('--data-dir');
      const stdio = await runCli(['stdio', '--data-dir', dir]);
      expect(stdio.code).toBe(1);
      expect(stdio.stderr).toContain(`is in use by process ${owner.process.pid}`);
      const ready = await (await fetch(`${owner.origin}/ready`)).text();
      expect(ready).not.toContain(dir);
    } finally {
      await owner.stop();
    }
    // The lock ended with its holder: the next server starts.
    const next = await startHttpServer(['--data-dir', dir]);
    await next.stop();
  });

  it('names neither the directory nor the holder in /ready or an operation error when an app cannot open it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-lock-app-'));
    const holder = contend(dir);
    expect(await holder.go()).toBe('held');
    const app = new App({ dataDir: dir, env: { LOG_LEVEL: 'silent' } });
    const { handle } = createHttpApp(app, { allowedHosts: [], maxBodyBytes: 1024 * 1024 });
    const { createServer } = await import('node:http');
    const server = createServer(handle);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const ready = await fetch(`${origin}/ready`);
      expect(ready.status).toBe(503);
      const readyText = await ready.text();
      expect(readyText).toContain('in use by another mcp-level3 process');
      const call = await fetch(`${origin}/api/v1/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'registry_list', params: {} }),
      });
      const callText = await call.text();
      expect(callText).toContain('in use by another mcp-level3 process');
      for (const text of [readyText, callText]) {
        expect(text).not.toContain(dir);
        expect(text).not.toContain(String(holder.child.pid));
      }
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await app.close();
      holder.child.stdin.end();
      await holder.exited;
    }
  });
});
