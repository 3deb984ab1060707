/*
 * The official Python MCP SDK (PyPI `mcp`) against the built server, over stdio and over
 * streamable HTTP, in both protocol eras: a client written by others, in another language.
 * The checks themselves live in test/e2e/python/client_e2e.py; this file runs it and reads
 * its one-line JSON summary. Needs MCP_PYTHON (a python with the `mcp` package; the script
 * .ci/services/python-mcp.sh prints one) and dist/ (`npm test` builds it first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv } from '../helpers/cli.js';

const MCP_PYTHON = process.env.MCP_PYTHON;
const SKIP_REASON = 'set MCP_PYTHON to a python with the mcp package (.ci/services/python-mcp.sh prints one)';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/bundle/cli.js', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./python/client_e2e.py', import.meta.url));
const TIMEOUT_MS = 60_000;

if (!MCP_PYTHON) console.warn(`python-client e2e skipped: ${SKIP_REASON}`);

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killing it after `timeoutMs`. */
function run(command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

interface Summary {
  ok: boolean;
  checks: number;
  failed?: string;
  protocolVersion?: string;
}

async function runClient(args: string[]): Promise<Summary> {
  const result = await run(MCP_PYTHON!, [SCRIPT, ...args], TIMEOUT_MS - 5_000);
  const lastLine = result.stdout.trim().split('\n').pop() ?? '';
  let summary: Summary | undefined;
  try {
    summary = JSON.parse(lastLine) as Summary;
  } catch {
    summary = undefined;
  }
  const context = `client_e2e.py ${args.join(' ')} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr (last 3000 chars):\n${result.stderr.slice(-3000)}`;
  expect(summary, context).toBeDefined();
  expect(summary!.failed, context).toBeUndefined();
  expect(summary!.ok, context).toBe(true);
  expect(result.code, context).toBe(0);
  // initialize/discover, capabilities, list_tools, publish, get, the bad call, read, prompts
  expect(summary!.checks).toBeGreaterThanOrEqual(40);
  return summary!;
}

interface HttpServer {
  child: ChildProcess;
  url: string;
}

/** Starts `cli.js http --port 0` and reads the URL it logs ("mcp-level3 listening"). */
function startHttpServer(): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'http', '--port', '0', '--data-dir', 'memory://'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: cleanEnv(),
    });
    let buffer = '';
    let log = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the HTTP server did not log "mcp-level3 listening" within 30 s; its stderr:\n${log}`));
    }, 30_000);
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'mcp-level3 listening' && entry.url) {
            clearTimeout(timer);
            resolve({ child, url: entry.url });
          }
        } catch {
          // not a JSON log line
        }
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP server exited (${code ?? signal}) before listening; its stderr:\n${log}`));
    });
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

describe.skipIf(!MCP_PYTHON)(`Python MCP SDK client${MCP_PYTHON ? '' : ` (skipped: ${SKIP_REASON})`}`, () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first`);
  });

  describe('over stdio', () => {
    it('passes every check with the initialize handshake (2025-era)', { timeout: TIMEOUT_MS }, async () => {
      const summary = await runClient(['stdio', process.execPath, CLI]);
      expect(summary.protocolVersion).toMatch(/^2025-/);
    });

    it('passes every check with server/discover (2026-07-28)', { timeout: TIMEOUT_MS }, async () => {
      const summary = await runClient(['stdio', process.execPath, CLI, '--era', 'modern']);
      expect(summary.protocolVersion).toBe('2026-07-28');
    });
  });

  describe('over streamable HTTP', () => {
    let server: HttpServer | undefined;

    beforeAll(async () => {
      server = await startHttpServer();
    }, TIMEOUT_MS);

    afterAll(async () => {
      if (server) await stopServer(server.child);
    }, TIMEOUT_MS);

    it('passes every check with the initialize handshake (2025-era)', { timeout: TIMEOUT_MS }, async () => {
      const summary = await runClient(['http', server!.url]);
      expect(summary.protocolVersion).toMatch(/^2025-/);
    });

    it('passes every check with server/discover (2026-07-28)', { timeout: TIMEOUT_MS }, async () => {
      const summary = await runClient(['http', server!.url, '--era', 'modern']);
      expect(summary.protocolVersion).toBe('2026-07-28');
    });
  });
});
