/*
 * Change events across replicas: two (or three) server processes on one PostgreSQL database
 * and one Redis. A client listening through replica A hears about a run that replica B
 * started and advanced; so does a stdio (2025) subscriber of a third process. 2025 clients
 * over HTTP are served stateless, by any replica. With Redis down, each replica goes on
 * serving and its listeners miss only other replicas' events; once Redis is back, the runs
 * that changed meanwhile are announced again.
 */
import type { ChildProcess } from 'node:child_process';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, startHttpServer, type RunningServer } from '../helpers/cli.js';
import { connectStdio, type McpClient } from '../helpers/clients.js';
import { DATABASE_URL, freshDatabase, REDIS_URL, uniqueId } from '../helpers/backends.js';
import { startBalancer, type Balancer } from '../helpers/balancer.js';
import { freePort, REDIS_SERVER_BIN, startRedis } from '../helpers/private-redis.js';
import { eventually } from '../helpers/timing.js';

async function modernClient(url: string): Promise<Client> {
  const client = new Client({ name: 'events-e2e', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function legacyHttpClient(url: string): Promise<Client> {
  const client = new Client({ name: 'events-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

async function tool<T>(client: Pick<McpClient, 'callTool'>, name: string, args: Record<string, unknown>): Promise<T> {
  const result = await client.callTool({ name, arguments: args });
  if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
  return result.structuredContent as T;
}

/** Collects a client's resource notifications. */
function notifications(client: Client) {
  const updated: string[] = [];
  let listChanged = 0;
  client.setNotificationHandler('notifications/resources/updated', (n) => void updated.push(n.params.uri));
  client.setNotificationHandler('notifications/resources/list_changed', () => void listChanged++);
  return { updated, listChanged: () => listChanged };
}

/** A run whose first node waits, so a client can start listening before it moves on. */
const slowRun = (name: string, firstMs: number) => ({
  definition: { name, nodes: [{ id: 'wait', action: 'delay', input: { ms: firstMs } }, { id: 'one', action: 'noop', dependsOn: ['wait'] }, { id: 'two', action: 'delay', input: { ms: 50 }, dependsOn: ['one'] }] },
});

/** A replica takes traffic once /ready says so (storage, and with it the Redis relay, is open). */
async function ready(server: RunningServer): Promise<void> {
  await eventually(async () => ((await fetch(new URL('/ready', server.url))).ok ? true : undefined), `${server.url} to be ready`, { timeoutMs: 30_000 });
}

const skipReason = !DATABASE_URL ? 'set DATABASE_URL to a PostgreSQL with pgvector' : !REDIS_URL ? 'set REDIS_URL to a Redis server' : undefined;

describe.skipIf(skipReason)(`change events across replicas${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let a: RunningServer;
  let b: RunningServer;
  let env: NodeJS.ProcessEnv;
  const closers: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    database = await freshDatabase('events_e2e');
    // A never looks for work queued by others (its idle poll is ten minutes), so every node
    // of a run started through B is run by B.
    env = cleanEnv({ DATABASE_URL: database.url, REDIS_URL: REDIS_URL!, DAG_POLL_INTERVAL_MS: '50' });
    [a, b] = await Promise.all([startHttpServer([], { ...env, DAG_POLL_INTERVAL_MS: '600000' }), startHttpServer([], env)]);
    await Promise.all([a, b].map(ready));
  }, 60_000);
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
  });

  it('a 2026-07-28 client listening through A, and a stdio subscriber of a third process, hear every change of a run B started and ran', async () => {
    const onA = await modernClient(a.url);
    closers.push(() => onA.close());
    const heardOnA = notifications(onA);
    const stdio = (await connectStdio('v1', [], { ...(env as Record<string, string>), DAG_POLL_INTERVAL_MS: '600000' })) as McpClient & {
      subscribeResource(p: { uri: string }): Promise<unknown>;
      setNotificationHandler: Client['setNotificationHandler'];
    };
    closers.push(() => stdio.close());
    const { ResourceUpdatedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const heardOnStdio: string[] = [];
    (stdio as unknown as { setNotificationHandler(s: unknown, h: (n: { params: { uri: string } }) => void): void }).setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void heardOnStdio.push(n.params.uri));
    await tool(stdio, 'dag_runs', { limit: 1 }); // its storage (and relay) is open

    const onB = await modernClient(b.url);
    closers.push(() => onB.close());
    const { runId } = await tool<{ runId: string }>(onB, 'dag_run', slowRun('events/across', 2500));
    const uri = `dag://runs/${runId}`;
    const subscription = await onA.listen({ resourceSubscriptions: [uri], resourcesListChanged: true });
    expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: [uri], resourcesListChanged: true });
    await stdio.subscribeResource({ uri });

    const finished = await eventually(async () => {
      const state = await tool<{ status: string }>(onB, 'dag_status', { runId });
      return state.status === 'succeeded' ? state : undefined;
    }, 'the run to succeed', { timeoutMs: 30_000 });
    expect(finished.status).toBe('succeeded');
    // After the listen: "wait" completes (releasing "one", run inline), "two" is claimed and
    // completes, the run ends. Every one of them happened on B.
    await eventually(() => (heardOnA.updated.length >= 3 ? true : undefined), 'three updates on A', { timeoutMs: 10_000 });
    await eventually(() => (heardOnStdio.length >= 3 ? true : undefined), 'three updates on the stdio connection', { timeoutMs: 10_000 });
    expect(new Set(heardOnA.updated)).toEqual(new Set([uri]));
    expect(new Set(heardOnStdio)).toEqual(new Set([uri]));
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    const owners = (await db.query<{ owner: string | null }>(`select distinct split_part(lease_owner, '-', 1) as owner from dag_nodes where run_id = $1 and action = 'delay'`, [runId])).rows;
    await db.end();
    expect(owners).toEqual([{ owner: String(b.process.pid) }]);

    // A new workflow defined through B changes the resource list A's client sees.
    const before = heardOnA.listChanged();
    await tool(onB, 'dag_define', { definition: { name: `events/${uniqueId('wf')}`, nodes: [{ id: 'a', action: 'noop' }] } });
    await eventually(() => (heardOnA.listChanged() > before ? true : undefined), 'a list change on A', { timeoutMs: 10_000 });
    await subscription.close();
  }, 90_000);

  it('serves 2025 clients over HTTP stateless, from any replica: no session, no subscriptions, GET refused', async () => {
    const balancer: Balancer = await startBalancer([Number(new URL(a.url).port), Number(new URL(b.url).port)]);
    closers.push(() => balancer.close());
    const url = `http://127.0.0.1:${balancer.port}/mcp`;
    const init = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toBeNull();
    const get = await fetch(url, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(405);

    const client = await legacyHttpClient(url);
    closers.push(() => client.close());
    expect(client.getServerCapabilities()?.resources).toMatchObject({ subscribe: false, listChanged: false });
    // A new connection per call goes to each replica in turn: the "session" is nowhere.
    for (let i = 0; i < 4; i++) {
      const { artifacts } = await tool<{ artifacts: unknown[] }>(client, 'registry_list', { prefix: 'none/', limit: 1 });
      expect(artifacts).toEqual([]);
    }
    await expect(client.subscribeResource({ uri: 'dag://runs/x' })).rejects.toThrow();
  }, 60_000);
});

const downSkip = !DATABASE_URL ? 'set DATABASE_URL to a PostgreSQL with pgvector' : !REDIS_SERVER_BIN ? 'set REDIS_SERVER_BIN to a redis-server binary' : undefined;

describe.skipIf(downSkip)(`change events while Redis is down${downSkip ? ` (skipped: ${downSkip})` : ''}`, () => {
  let database: Awaited<ReturnType<typeof freshDatabase>>;
  let redis: ChildProcess | undefined;
  const servers: RunningServer[] = [];

  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    redis?.kill('SIGKILL');
    await database?.drop();
  });

  it("keeps serving; listeners miss only other replicas' events, and hear about the runs that changed once Redis is back", async () => {
    database = await freshDatabase('events_down');
    const port = await freePort();
    redis = await startRedis(port);
    const env = cleanEnv({ DATABASE_URL: database.url, REDIS_URL: `redis://127.0.0.1:${port}`, DAG_POLL_INTERVAL_MS: '50' });
    const [a, b] = await Promise.all([startHttpServer([], { ...env, DAG_POLL_INTERVAL_MS: '600000' }), startHttpServer([], env)]);
    servers.push(a, b);
    await Promise.all([a, b].map(ready));
    const onA = await modernClient(a.url);
    const onB = await modernClient(b.url);
    try {
      const heard = notifications(onA);
      const { runId } = await tool<{ runId: string }>(onB, 'dag_run', slowRun('events/outage', 2500));
      const uri = `dag://runs/${runId}`;
      await onA.listen({ resourceSubscriptions: [uri] });

      redis.kill('SIGKILL');
      await new Promise((resolve) => redis!.once('exit', resolve));
      const ready = async () => (await fetch(new URL('/ready', a.url))).json() as Promise<{ ready: boolean; checks: { events: { ok: boolean; backend: string } } }>;
      await eventually(async () => ((await ready()).checks.events.ok ? undefined : true), 'A to notice the outage', { timeoutMs: 10_000 });
      expect(await ready()).toMatchObject({ ready: true, checks: { events: { ok: false, backend: 'redis' } } });
      // B finishes the run meanwhile; A serves calls and reads it from the database.
      const state = await eventually(async () => {
        const s = await tool<{ status: string }>(onA, 'dag_status', { runId });
        return s.status === 'succeeded' ? s : undefined;
      }, 'the run to succeed during the outage', { timeoutMs: 30_000 });
      expect(state.status).toBe('succeeded');
      const heardDuringOutage = heard.updated.length;

      redis = await startRedis(port);
      await eventually(() => (heard.updated.length > heardDuringOutage ? true : undefined), 'A to announce the run after the outage', { timeoutMs: 20_000 });
      expect(heard.updated.at(-1)).toBe(uri);
      await eventually(async () => ((await ready()).checks.events.ok ? true : undefined), '/ready to report the channel back', { timeoutMs: 10_000 });
    } finally {
      await onA.close().catch(() => undefined);
      await onB.close().catch(() => undefined);
    }
  }, 90_000);
});
