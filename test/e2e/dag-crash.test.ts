/*
 * Issue 17, row 1, against the built server on the embedded database: a workflow whose
 * expression never ends fails by its budget while /health keeps answering; a node whose
 * attempts keep dying with the process (kill -9) is failed after maxInterruptedAttempts
 * instead of being resumed forever; and with DAG_engine.enabled false the server does not
 * open the engine (no scheduler resumes runs, no dag tools).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, startHttpServer, type RunningServer } from '../helpers/cli.js';
import { eventually } from '../helpers/timing.js';

interface RpcReply {
  result?: Record<string, unknown> & { nodes?: { id: string; status: string; error?: string; attempts: number }[] };
  error?: { code: number; message: string };
}

async function rpc(server: RunningServer, method: string, params: unknown): Promise<RpcReply> {
  const response = await fetch(`${server.origin}/api/v1/rpc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  return (await response.json()) as RpcReply;
}

function kill9(server: RunningServer): Promise<void> {
  return new Promise((resolve) => {
    server.process.once('exit', () => resolve());
    server.process.kill('SIGKILL');
  });
}

describe('DAG runs under crashes and budgets (built server, embedded database)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml3-dag-crash-'));
  const dataDir = join(dir, 'data');
  const env = cleanEnv({ DAG_POLL_INTERVAL_MS: '100', DAG_MAX_INTERRUPTED_ATTEMPTS: '2' });
  let server: RunningServer | undefined;

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails a runaway expression by its budget while /health answers', async () => {
    server = await startHttpServer(['--data-dir', dataDir], env);
    const started = await rpc(server, 'dag_run', { definition: { name: 'crash/spin', nodes: [{ id: 'spin', action: 'transform', input: '=($f := function($n){ $f($n + 1) }; $f(0))' }] } });
    const runId = started.result!.runId as string;
    let healthy = 0;
    const node = await eventually(async () => {
      if ((await fetch(`${server!.origin}/health`)).ok) healthy++;
      const status = await rpc(server!, 'dag_status', { runId });
      const spin = status.result?.nodes?.[0];
      return spin?.status === 'failed' ? spin : undefined;
    }, 'the runaway node to fail', { timeoutMs: 30_000 });
    expect(healthy).toBeGreaterThan(0);
    expect(node.error).toMatch(/expressionTimeoutMs/);
    expect((await fetch(`${server.origin}/health`)).ok).toBe(true);
  }, 60_000);

  it('fails a node interrupted by kill -9 more often than maxInterruptedAttempts allows, instead of resuming it forever', async () => {
    server ??= await startHttpServer(['--data-dir', dataDir], env);
    const started = await rpc(server, 'dag_run', {
      definition: { name: 'crash/slow', nodes: [{ id: 'slow', action: 'delay', input: { ms: 600_000 }, retry: { maxAttempts: 10, initialDelayMs: 1, maxDelayMs: 5 } }] },
    });
    const runId = started.result!.runId as string;
    const slow = async () => (await rpc(server!, 'dag_status', { runId })).result?.nodes?.[0];
    // Two attempts die with their process (DAG_MAX_INTERRUPTED_ATTEMPTS=2) ...
    for (let crash = 1; crash <= 2; crash++) {
      await eventually(async () => ((await slow())?.status === 'running' ? true : undefined), `attempt ${crash} to run`, { timeoutMs: 30_000 });
      await kill9(server);
      server = await startHttpServer(['--data-dir', dataDir], env);
    }
    // ... and the node is failed when taken back, not started a third time.
    const failed = await eventually(async () => {
      const node = await slow();
      return node?.status === 'failed' ? node : undefined;
    }, 'the node to fail', { timeoutMs: 30_000 });
    expect(failed.error).toMatch(/^interrupted 2 times: .*maxInterruptedAttempts \(2, DAG_engine\.settings\.maxInterruptedAttempts\)/);
    expect((await rpc(server, 'dag_status', { runId })).result).toMatchObject({ status: 'failed' });
  }, 120_000);

  it('does not open a disabled engine: no scheduler resumes runs and the dag tools are not offered', async () => {
    server ??= await startHttpServer(['--data-dir', dataDir], env);
    // A run left with a node in flight by a killed process ...
    const started = await rpc(server, 'dag_run', { definition: { name: 'crash/left', nodes: [{ id: 'wait', action: 'delay', input: { ms: 600_000 } }] } });
    const runId = started.result!.runId as string;
    await eventually(async () => ((await rpc(server!, 'dag_status', { runId })).result?.nodes?.[0]?.status === 'running' ? true : undefined), 'the node to run', { timeoutMs: 30_000 });
    await kill9(server);

    // ... is not resumed by a server whose DAG engine is disabled.
    const config = join(dir, 'config');
    cpSync('config', config, { recursive: true });
    const engineMap = readFileSync(join(config, 'engine_map.yaml'), 'utf8');
    writeFileSync(join(config, 'engine_map.yaml'), engineMap.replace(/(DAG_engine:\n\s+enabled:) true/, '$1 false'));
    server = await startHttpServer(['--data-dir', dataDir, '--config', config], env);
    expect((await rpc(server, 'dag_status', { runId })).error).toMatchObject({ code: -32601 });
    // Answered once the engines are open.
    expect((await rpc(server, 'execution_status', {})).result).toMatchObject({ inFlight: 0 });
    expect(server.stderr.some((line) => line.includes('resuming interrupted runs'))).toBe(false);
    expect((await fetch(`${server.origin}/health`)).ok).toBe(true);
    await server.stop();

    // Enabled again, the scheduler takes the run back (counting the interruption).
    server = await startHttpServer(['--data-dir', dataDir], env);
    await eventually(async () => (server!.stderr.some((line) => line.includes('resuming interrupted runs')) ? true : undefined), 'the run to be resumed', { timeoutMs: 30_000 });
    expect((await rpc(server, 'dag_status', { runId })).result).toMatchObject({ status: 'running' });
  }, 120_000);
});
