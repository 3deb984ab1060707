/*
 * Spawning the built `mcp-level3` command the way users and clients do.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve('dist/bundle/cli.js');

export interface RunningServer {
  url: string;
  origin: string;
  process: ChildProcessWithoutNullStreams;
  stderr: string[];
  stop(): Promise<number | null>;
}

/** Environment without the CI service URLs, so a test chooses its own backend. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  // A shared Neo4j would carry graphs between these servers' throw-away databases.
  delete env.NEO4J_URI;
  delete env.MCP_DATA_DIR;
  // The offline embedder unless a test asks for another (the default is the local model).
  return { ...env, LOG_LEVEL: 'info', EMBEDDINGS_PROVIDER: 'offline', ...extra };
}

export function stopProcess(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
    child.kill('SIGTERM');
  });
}

export function startHttpServer(args: string[] = [], env: NodeJS.ProcessEnv = cleanEnv()): Promise<RunningServer> {
  const child = spawn(process.execPath, [CLI, 'http', '--port', '0', ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  return new Promise((resolveStart, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr.join('\n')}`)), 20_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        stderr.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'mcp-level3 listening' && entry.url) {
            clearTimeout(timer);
            const url = entry.url;
            resolveStart({ url, origin: new URL(url).origin, process: child, stderr, stop: () => stopProcess(child) });
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${stderr.join('\n')}`));
    });
  });
}

/** Runs the CLI to completion; for commands that exit by themselves. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = cleanEnv(),
  /** input: written to stdin before it is closed. */
  options: { cwd?: string; timeoutMs?: number; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const child = spawn(process.execPath, [CLI, ...args], { env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(options.input);
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}
