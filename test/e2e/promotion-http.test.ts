/*
 * Four-eyes promotion as a team sees it over HTTP: the built server runs as a child process
 * on an embedded data directory, each person has an API key made with `mcp-level3 apikey
 * create`, and every step is a REST call carrying that person's key. Dana builds and asks;
 * Lee and Sam may approve (and Lee, as platform lead, sets policies). At the end the server
 * is stopped, one audit row is altered in SQL through PGlite, and the restarted server's
 * verify names that row.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/platform/sql/pglite-adapter.js';
import { cleanEnv, runCli, startHttpServer, type RunningServer } from '../helpers/cli.js';

interface Person {
  name: string;
  key: string;
  /** The principal id the server gives the key's holder: `apikey:<key id>`. */
  principal: string;
}

interface Answer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the outputs of many operations
  body: any;
}

type Route = { path: string; method: 'GET' | 'POST' };

describe('four-eyes promotion over HTTP with API keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-promotion-http-'));
  // API_KEY_ENABLED is left unset: auto, so the keys made below make every request need one.
  const env = cleanEnv();
  let server: RunningServer | undefined;
  let routes = new Map<string, Route>();
  let dana: Person; // developer: publishes and requests, cannot approve
  let lee: Person; // platform lead: requests, approves, sets policies
  let sam: Person; // SRE: approves

  async function makeKey(name: string, scopes: string): Promise<Person> {
    const made = await runCli(['apikey', 'create', '--name', name, '--scopes', scopes, '--data-dir', dir], env, { timeoutMs: 90_000 });
    expect(made.code, made.stderr).toBe(0);
    const key = made.stdout.trim().split('\n').at(-1)!; // the key alone, on the last line of stdout
    return { name, key, principal: `apikey:${/^ml3_([0-9a-f]{12})_/.exec(key)![1]}` };
  }

  async function start(): Promise<void> {
    server = await startHttpServer(['--data-dir', dir], env);
    // Each operation's route and method, from the server's own OpenAPI document.
    const document = (await (await fetch(`${server.origin}/api/docs/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>> };
    routes = new Map(
      Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, entry]) => [entry.operationId, { path, method: method.toUpperCase() as Route['method'] }] as const),
      ),
    );
  }

  /** One REST call as `who` (or with no key). */
  async function call(who: Person | undefined, operation: string, input: Record<string, unknown> = {}): Promise<Answer> {
    const route = routes.get(operation);
    if (!route) throw new Error(`the server has no route for ${operation}`);
    const headers: Record<string, string> = who ? { 'x-api-key': who.key } : {};
    let url = `${server!.origin}${route.path}`;
    let body: string | undefined;
    if (route.method === 'GET') url += `?${new URLSearchParams(Object.entries(input).map(([k, v]): [string, string] => [k, String(v)]))}`;
    else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(input);
    }
    const response = await fetch(url, { method: route.method, headers, body });
    return { status: response.status, body: await response.json() };
  }

  const ok = async (who: Person, operation: string, input: Record<string, unknown> = {}) => {
    const answer = await call(who, operation, input);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    return answer.body;
  };
  const alias = async (name: string, environment: string) => {
    const answer = await call(dana, 'registry_get', { name, alias: environment, includeContent: false });
    return answer.status === 200 ? (answer.body.version as string) : undefined;
  };
  const toDev = async (name: string, version: string) => {
    expect((await ok(dana, 'promotion_request', { name, version, environment: 'dev', reason: 'build passed' })).status).toBe('promoted');
  };

  beforeAll(async () => {
    dana = await makeKey('dana', 'registry:read,registry:write,promotion:request,promotion:read');
    lee = await makeKey('lee', 'registry:read,promotion:request,promotion:approve,promotion:read,governance:admin,governance:read');
    sam = await makeKey('sam', 'registry:read,promotion:approve,promotion:read');
    await start();
    for (const [name, version] of [['acme/churn', '1.0.0'], ['acme/churn', '1.1.0'], ['acme/race', '1.0.0']] as const) {
      await ok(dana, 'registry_publish', { name, version, content: `${name} ${version}`, labels: { taxonomy: 'classifier' } });
    }
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a request without a key now that keys exist', async () => {
    const answer = await call(undefined, 'registry_list');
    expect(answer.status).toBe(401);
    expect(answer.body.error.message).toContain('X-API-Key');
  });

  it('refuses self-approval and an approver without promotion:approve; a second person\'s approval moves the alias', async () => {
    await toDev('acme/churn', '1.0.0');
    const request = await ok(lee, 'promotion_request', { name: 'acme/churn', version: '1.0.0', environment: 'staging', reason: 'validated in dev' });
    expect(request.status).toBe('pending_approval');

    const self = await call(lee, 'promotion_approve', { requestId: request.requestId });
    expect(self.status).toBe(403);
    expect(self.body.error.message).toBe(`four-eyes rule: ${lee.principal} requested this promotion and cannot approve it; another approver must`);

    const unscoped = await call(dana, 'promotion_approve', { requestId: request.requestId });
    expect(unscoped.status).toBe(403);
    expect(unscoped.body.error.message).toBe(`promotion_approve needs the scope "promotion:approve", which principal "${dana.principal}" does not have`);
    expect(await alias('acme/churn', 'staging')).toBeUndefined();

    const approved = await ok(sam, 'promotion_approve', { requestId: request.requestId, comment: 'metrics look fine' });
    expect(approved).toMatchObject({ status: 'promoted', approvals: 1, approvalsRequired: 1 });
    expect(await alias('acme/churn', 'staging')).toBe('1.0.0');
  });

  it('rolls the alias back to the version promoted before', async () => {
    await toDev('acme/churn', '1.1.0');
    const request = await ok(dana, 'promotion_request', { name: 'acme/churn', version: '1.1.0', environment: 'staging', reason: 'next release' });
    await ok(sam, 'promotion_approve', { requestId: request.requestId });
    expect(await alias('acme/churn', 'staging')).toBe('1.1.0');

    expect(await ok(sam, 'promotion_rollback', { name: 'acme/churn', environment: 'staging' })).toEqual({ version: '1.0.0', previousVersion: '1.1.0' });
    expect(await alias('acme/churn', 'staging')).toBe('1.0.0');
    const history = await ok(dana, 'promotion_history', { name: 'acme/churn', environment: 'staging' });
    expect((history.events as { action: string; version: string; actor: string }[]).map((e) => `${e.action} ${e.version} by ${e.actor}`)).toEqual([
      `rollback 1.0.0 by ${sam.principal}`,
      `promote 1.1.0 by ${sam.principal}`,
      `promote 1.0.0 by ${sam.principal}`,
    ]);
  });

  it('lets two approvers racing on one request produce exactly one promotion', async () => {
    await toDev('acme/race', '1.0.0');
    const request = await ok(dana, 'promotion_request', { name: 'acme/race', version: '1.0.0', environment: 'staging', reason: 'race' });
    const answers = await Promise.all([call(lee, 'promotion_approve', { requestId: request.requestId }), call(sam, 'promotion_approve', { requestId: request.requestId })]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const loser = answers.find((a) => a.status === 409)!;
    expect(loser.body.error.message).toContain('is promoted');
    const history = await ok(dana, 'promotion_history', { name: 'acme/race', environment: 'staging' });
    expect(history.events).toHaveLength(1);
    expect(await alias('acme/race', 'staging')).toBe('1.0.0');
  });

  it('blocks with a deny policy and says which policy and why', async () => {
    await ok(lee, 'governance_set_policy', {
      id: 'prod-needs-release-label',
      target: 'promotion',
      expression: 'environment == "prod" && !("release" in artifact.labels)',
      effect: 'deny',
      message: 'prod takes only versions labelled "release"',
    });
    const request = await ok(dana, 'promotion_request', { name: 'acme/churn', version: '1.0.0', environment: 'prod', reason: 'release 1.0' });
    expect(request.status).toBe('rejected');
    const policy = (request.gates as { gate: string; passed: boolean; messages: string[] }[]).find((g) => g.gate === 'policy')!;
    expect(policy.passed).toBe(false);
    expect(policy.messages[0]).toBe('denied by prod-needs-release-label: prod takes only versions labelled "release"');
    expect(await alias('acme/churn', 'prod')).toBeUndefined();

    await ok(lee, 'governance_set_policy', {
      id: 'no-scratch',
      target: 'registry_publish',
      expression: 'request.name.startsWith("scratch/")',
      effect: 'deny',
      message: 'scratch artifacts are not published',
    });
    const refused = await call(dana, 'registry_publish', { name: 'scratch/tmp', version: '1.0.0', content: 'x' });
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('no-scratch');
    expect(refused.body.error.message).toContain('scratch artifacts are not published');
  });

  it('shows who did what in the audit log, and verify passes until a row is altered in SQL', async () => {
    const { records } = await ok(lee, 'governance_audit_query', { operation: 'promotion_approve', limit: 100 });
    const approvals = (records as { seq: number; principal: string; outcome: string }[]).map((r) => `${r.principal} ${r.outcome}`);
    expect(approvals).toEqual(expect.arrayContaining([`${lee.principal} denied`, `${dana.principal} denied`, `${sam.principal} ok`]));
    const rollbacks = await ok(lee, 'governance_audit_query', { operation: 'promotion_rollback' });
    expect(rollbacks.records[0]).toMatchObject({ principal: sam.principal, outcome: 'ok', arguments: { name: 'acme/churn', environment: 'staging' } });
    const policies = await ok(lee, 'governance_audit_query', { principal: lee.principal, operation: 'governance_set_policy' });
    expect(policies.records).toHaveLength(2);
    expect(await ok(lee, 'governance_audit_verify')).toMatchObject({ ok: true });

    // Sam's first approval, rewritten to look like someone else's.
    const target = (records as { seq: number; principal: string; outcome: string }[]).filter((r) => r.principal === sam.principal && r.outcome === 'ok').at(-1)!.seq;
    await server!.stop();
    server = undefined;
    const sql = await openPglite(join(dir, 'pgdata'));
    try {
      await expect(sql.query("update governance_audit set principal = 'apikey:mallory' where seq = $1", [target])).rejects.toThrow(/append-only/);
      await sql.transaction(async (tx) => {
        await tx.exec('alter table governance_audit disable trigger governance_audit_no_change');
        await tx.query("update governance_audit set principal = 'apikey:mallory' where seq = $1", [target]);
        await tx.exec('alter table governance_audit enable trigger governance_audit_no_change');
      });
    } finally {
      await sql.close();
    }
    await start();
    const verified = await ok(lee, 'governance_audit_verify');
    expect(verified).toMatchObject({ ok: false, records: target - 1, firstBroken: { seq: target } });
    expect(verified.firstBroken.reason).toContain('changed');
  }, 120_000);
});
