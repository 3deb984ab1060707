/*
 * Workflows through the built command: progress and run subscriptions over stdio, a run
 * that survives `kill -9` of the server on the embedded database, and two servers on one
 * PostgreSQL sharing a run (one of them killed half way) or cancelling one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, startHttpServer, type RunningServer } from '../helpers/cli.js';
import { connectHttp, type McpClient } from '../helpers/clients.js';
import { DATABASE_URL, uniqueId } from '../helpers/backends.js';
import { eventually } from '../helpers/timing.js';

interface NodeState {
  id: string;
  status: string;
  attempts: number;
  finishedAt?: string;
  output?: { created?: boolean };
}
interface RunState {
  runId: string;
  status: string;
  nodes: NodeState[];
}

async function tool<T>(client: McpClient, name: string, args: Record<string, unknown>): Promise<T> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

describe('dag over stdio', () => {
  it('streams progress for dag_run with wait and notifies a subscribed client of run changes', async () => {
    const client = new Client({ name: 'dag-e2e', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, '--data-dir', 'memory://'], env: cleanEnv() as Record<string, string>, stderr: 'pipe' }));
    try {
      expect(client.getServerCapabilities()?.resources?.subscribe).toBe(true);
      const progress: number[] = [];
      const waited = await client.callTool(
        {
          name: 'dag_run',
          arguments: {
            wait: true,
            definition: { name: 'e2e/progress', nodes: [{ id: 'a', action: 'delay', input: { ms: 20 } }, { id: 'b', action: 'noop', dependsOn: ['a'] }, { id: 'c', action: 'noop', dependsOn: ['b'] }] },
          },
        },
        undefined,
        { onprogress: (p) => void progress.push(p.progress) },
      );
      expect(waited.structuredContent).toMatchObject({ status: 'succeeded' });
      expect(progress.at(-1)).toBe(3);

      const updates: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
      const started = (await client.callTool({
        name: 'dag_run',
        arguments: { definition: { name: 'e2e/subscribed', nodes: [{ id: 'gate', action: 'delay', input: { ms: 300 } }, { id: 'next', action: 'noop', dependsOn: ['gate'] }] } },
      })).structuredContent as { runId: string };
      const uri = `dag://runs/${started.runId}`;
      await client.subscribeResource({ uri });
      await eventually(async () => {
        const read = await client.readResource({ uri });
        const state = JSON.parse((read.contents[0] as { text: string }).text) as RunState;
        return state.status === 'succeeded' ? state : undefined;
      }, 'the run to finish', { timeoutMs: 60_000 });
      await eventually(async () => (updates.length >= 2 ? true : undefined), 'an update notification', { timeoutMs: 5_000 });
      expect(new Set(updates)).toEqual(new Set([uri]));
      const listed = await client.listResources();
      expect(listed.resources.map((r) => r.uri)).toContain(uri);
    } finally {
      await client.close();
    }
  }, 120_000);
});

describe('dag durability on the embedded database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-dag-crash-'));
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes a 200-node run after kill -9: completed nodes are not run again and every node succeeds once', async () => {
    // 10 chains of 10 delays, each feeding a registry publish, 10 at a time: at least 4 s of
    // work, so the kill lands mid-run even when the status calls are slow.
    const nodes = [];
    for (let i = 0; i < 100; i++) {
      nodes.push({ id: `d${i}`, action: 'delay', input: { ms: 400 }, ...(i >= 10 ? { dependsOn: [`d${i - 10}`] } : {}) });
      nodes.push({ id: `p${i}`, action: 'registry_publish', dependsOn: [`d${i}`], input: { name: 'crash/pub', version: `1.0.${i}`, content: `=$string(params.seed) & "-${i}"` } });
    }
    const env = cleanEnv({ DAG_POLL_INTERVAL_MS: '50' });
    server = await startHttpServer(['--data-dir', dir], env);
    let client = await connectHttp('v2', server.url);
    const { runId } = await tool<{ runId: string }>(client, 'dag_run', { definition: { name: 'e2e/crash', concurrency: 10, nodes }, params: { seed: 7 }, idempotencyKey: 'crash-1' });
    const before = await eventually(async () => {
      const state = await tool<RunState>(client, 'dag_status', { runId });
      return state.nodes.filter((n) => n.status === 'succeeded').length >= 40 ? state : undefined;
    }, '40 nodes to succeed', { timeoutMs: 18_000, intervalMs: 30 });
    await client.close().catch(() => undefined);
    server.process.kill('SIGKILL');
    await new Promise((r) => server!.process.once('exit', r));
    const doneBefore = new Map(before.nodes.filter((n) => n.status === 'succeeded').map((n) => [n.id, n]));
    expect(doneBefore.size).toBeLessThan(200);

    server = await startHttpServer(['--data-dir', dir], env);
    client = await connectHttp('v2', server.url);
    const after = await eventually(async () => {
      const state = await tool<RunState>(client, 'dag_status', { runId });
      return state.status === 'running' || state.status === 'queued' ? undefined : state;
    }, 'the run to finish after the restart', { timeoutMs: 60_000 });
    expect(after.status).toBe('succeeded');
    expect(after.nodes.filter((n) => n.status === 'succeeded')).toHaveLength(200);
    for (const [id, node] of doneBefore) {
      expect(after.nodes.find((n) => n.id === id), id).toEqual(node);
    }
    // Repeating the request returns the same run instead of starting another.
    const again = await tool<{ runId: string }>(client, 'dag_run', { definition: { name: 'e2e/crash', concurrency: 10, nodes }, params: { seed: 7 }, idempotencyKey: 'crash-1' });
    expect(again.runId).toBe(runId);
    const published = await tool<{ artifacts: unknown[]; nextCursor?: string }>(client, 'registry_list', { prefix: 'crash/', limit: 100 });
    expect(published.artifacts).toHaveLength(100);
    await client.close();
  }, 120_000);
});

describe.skipIf(!DATABASE_URL)(`dag scale-out on PostgreSQL${DATABASE_URL ? '' : ' (skipped: set DATABASE_URL to a PostgreSQL with pgvector)'}`, () => {
  const database = uniqueId('dag_e2e');
  const url = new URL(DATABASE_URL ?? 'postgres://localhost/none');
  const admin = () => new pg.Client({ connectionString: DATABASE_URL });
  const servers: RunningServer[] = [];
  beforeAll(async () => {
    const client = admin();
    await client.connect();
    await client.query(`create database ${database}`);
    await client.end();
    url.pathname = `/${database}`;
  });
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    const client = admin();
    await client.connect();
    await client.query(`drop database if exists ${database} with (force)`).catch(() => undefined);
    await client.end();
  });

  it('two servers share a 1,000-node run; when one is killed, the other takes its nodes and the run succeeds', async () => {
    const env = cleanEnv({ DATABASE_URL: url.href, DAG_POLL_INTERVAL_MS: '50', DAG_LEASE_SECONDS: '1' });
    servers.push(await startHttpServer([], env));
    servers.push(await startHttpServer([], env));
    const [first, second] = servers as [RunningServer, RunningServer];
    const mcp = await connectHttp('v2', second.url);
    const nodes = Array.from({ length: 1000 }, (_, i) => ({ id: `n${i}`, action: 'delay', input: { ms: 40 }, ...(i >= 100 ? { dependsOn: [`n${i - 100}`] } : {}) }));
    const { runId } = await tool<{ runId: string }>(mcp, 'dag_run', { definition: { name: 'e2e/shared', concurrency: 40, nodes } });

    const db = new pg.Client({ connectionString: url.href });
    await db.connect();
    try {
      const owners = async () =>
        (await db.query<{ owner: string; n: number }>(`select split_part(lease_owner, '-', 1) as owner, count(*)::integer as n from dag_nodes where run_id = $1 and status = 'succeeded' group by 1`, [runId])).rows;
      await eventually(async () => ((await owners()).length >= 2 ? true : undefined), 'both servers to have finished nodes', { timeoutMs: 30_000, intervalMs: 50 });
      first.process.kill('SIGKILL');
      servers.shift();
      const state = await eventually(async () => {
        const s = await tool<RunState>(mcp, 'dag_status', { runId });
        return s.status === 'running' || s.status === 'queued' ? undefined : s;
      }, 'the run to finish', { timeoutMs: 60_000 });
      expect(state.status).toBe('succeeded');
      expect(state.nodes.filter((n) => n.status === 'succeeded')).toHaveLength(1000);
      const byOwner = await owners();
      expect(byOwner.map((o) => o.owner).sort()).toEqual([String(first.process.pid), String(second.process.pid)].sort());
      expect(byOwner.reduce((sum, o) => sum + o.n, 0)).toBe(1000);
    } finally {
      await db.end();
      await mcp.close().catch(() => undefined);
    }
  }, 180_000);

  it('a cancel on one server stops the other: no node starts after it, and the other server aborts its running nodes', async () => {
    // Leases of 60 s put the heartbeat 20 s apart; the nodes take 15 s. A server that only
    // learned of the cancel at its heartbeat would let its nodes finish and succeed.
    // Only these two servers work on the database in this test.
    for (const s of servers.splice(0)) await s.stop().catch(() => undefined);
    const env = cleanEnv({ DATABASE_URL: url.href, DAG_POLL_INTERVAL_MS: '50', DAG_LEASE_SECONDS: '60' });
    const pair = [await startHttpServer([], env), await startHttpServer([], env)] as const;
    servers.push(...pair);
    const mcp = await connectHttp('v2', pair[1].url);
    const nodes = Array.from({ length: 200 }, (_, i) => ({ id: `n${i}`, action: 'delay', input: { ms: 15_000 }, retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 1 } }));
    const { runId } = await tool<{ runId: string }>(mcp, 'dag_run', { definition: { name: 'e2e/cancel-shared', concurrency: 10, nodes } });

    const db = new pg.Client({ connectionString: url.href });
    await db.connect();
    try {
      const runningBy = async () =>
        (await db.query<{ owner: string }>(`select distinct split_part(lease_owner, '-', 1) as owner from dag_nodes where run_id = $1 and status = 'running'`, [runId])).rows.map((r) => r.owner);
      await eventually(async () => ((await runningBy()).length >= 2 ? true : undefined), 'both servers to be running nodes', { timeoutMs: 30_000, intervalMs: 50 });
      const cancelled = await tool<{ status: string }>(mcp, 'dag_cancel', { runId });
      expect(cancelled.status).toBe('cancelled');
      await eventually(async () => ((await runningBy()).length === 0 ? true : undefined), 'no node of the run to be running', { timeoutMs: 60_000 });

      const { rows } = await db.query<{ status: string; error: string | null; owner: string; after: boolean }>(
        `select n.status, n.error, split_part(n.lease_owner, '-', 1) as owner, n.started_at > r.finished_at as after
           from dag_nodes n join dag_runs r on r.id = n.run_id where n.run_id = $1 and n.started_at is not null`,
        [runId],
      );
      expect(rows.filter((r) => r.after)).toEqual([]);
      expect(new Set(rows.map((r) => r.owner))).toEqual(new Set(pair.map((p) => String(p.process.pid))));
      // Every node that had started, on either server, was aborted: none ran to its end.
      expect(rows.filter((r) => r.status !== 'cancelled')).toEqual([]);
      expect(new Set(rows.map((r) => r.error))).toEqual(new Set(['the run was cancelled']));
      const state = await tool<RunState>(mcp, 'dag_status', { runId });
      expect(state.status).toBe('cancelled');
      expect(state.nodes.every((n) => n.status === 'cancelled')).toBe(true);
    } finally {
      await db.end();
      await mcp.close().catch(() => undefined);
    }
  }, 180_000);
});
