/*
 * User programs under budgets (issue 17, rows 1, 3, 4 and 11), on every backend: JSONata
 * in DAG nodes (expressionTimeoutMs, expressionMaxDepth, RE2 regex literals), JSON Schema
 * patterns on RE2, CEL policies under policyCostLimit, and http_request, which checks the
 * addresses a name resolves to (httpAllowedNetworks) and reads header secrets with $secret.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { dagRun, dagStatus } from '../../tools/dag.js';
import { executionStatus } from '../../tools/execution.js';
import { governanceAuditQuery, governanceCheck, governanceSetPolicy } from '../../tools/governance.js';
import type { AnyOperation } from '../../src/surface/operation.js';
import { validationRegisterSchema, validationValidate } from '../../tools/validation.js';
import { failure } from '../helpers/failures.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';

type Status = z.output<typeof dagStatus.output>;

const SECRET_NAME = 'TRUST_TEST_TOKEN';
const SECRET_VALUE = `s3cr3t-${Math.random().toString(36).slice(2)}`;

/** A comprehension over `range`, nested `depth` times. */
const nested = (range: string, depth: number) => {
  let expression = 'true';
  for (let d = depth; d >= 1; d--) expression = `${range}.all(x${d}, ${expression})`;
  return expression;
};
const thirty = `[${Array.from({ length: 30 }, (_, i) => i).join(', ')}]`;

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`bounded evaluation on ${title(backend)}`, () => {
    let t: TestApp;
    let upstream: Server;
    let port = 0;
    const seen: IncomingHttpHeaders[] = [];
    const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);
    const status = (runId: string) => call(dagStatus, { runId }) as Promise<Status>;
    const run = (nodes: unknown[]) => call(dagRun, { wait: true, definition: { name: 'trust/bounded', nodes } });

    beforeAll(async () => {
      process.env[`MCP_SECRET_${SECRET_NAME}`] = SECRET_VALUE;
      upstream = createServer((req, res) => {
        seen.push(req.headers);
        if (req.url === '/redirect') {
          res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      port = (upstream.address() as AddressInfo).port;
      t = await startTestApp(backend, {
        env: { DAG_POLL_INTERVAL_MS: '50', DAG_HTTP_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2,localhost,169.254.169.254', DAG_HTTP_ALLOWED_NETWORKS: '127.0.0.1/32' },
      });
    });
    afterAll(async () => {
      delete process.env[`MCP_SECRET_${SECRET_NAME}`];
      await t?.close();
      upstream?.close();
    });

    it('fails a node whose expression recurses forever, naming expressionTimeoutMs, while other calls are answered', async () => {
      const runaway = run([{ id: 'spin', action: 'transform', input: { n: '=($f := function($n){ $f($n + 1) }; $f(0))' } }]);
      // Answered while the expression runs: evaluation gives the event loop its turns.
      const answered = await call(executionStatus, {});
      expect(answered.queued).toBeGreaterThanOrEqual(0);
      const result = await runaway;
      expect(result.status).toBe('failed');
      const spin = (await status(result.runId)).nodes[0]!;
      expect(spin).toMatchObject({ status: 'failed', attempts: 1 });
      expect(spin.error).toMatch(/ran longer than expressionTimeoutMs \(1000 ms, DAG_engine\.settings\.expressionTimeoutMs\)/);
    }, 30_000);

    it('fails a node whose recursion nests too deep, naming expressionMaxDepth, and the same in a when condition', async () => {
      const result = await run([
        { id: 'deep', action: 'transform', input: '=($f := function($n){ 1 + $f($n + 1) }; $f(0))' },
        { id: 'cond', action: 'delay', input: { ms: 1 }, when: '($f := function($n){ 1 + $f($n + 1) }; $f(0)) > 0' },
      ]);
      const s = await status(result.runId);
      for (const node of s.nodes) expect(node.error).toMatch(/nested deeper than expressionMaxDepth \(1000, DAG_engine\.settings\.expressionMaxDepth\)/);
    }, 30_000);

    it('runs regex literals in expressions on RE2: a catastrophic pattern answers, a backreference is refused with the definition', async () => {
      const result = await run([{ id: 'redos', action: 'transform', input: { m: `=$exists($match("${'a'.repeat(40)}!", /^(a+)+$/))`, r: '=$replace("a-b-c", /-/, "+")' } }]);
      expect((await status(result.runId)).nodes[0]).toMatchObject({ status: 'succeeded', output: { m: false, r: 'a+b+c' } });
      const refused = await failure(run([{ id: 'backref', action: 'transform', input: '=$match("aa", /(a)\\1/)' }]));
      expect(refused.code).toBe('INVALID_INPUT');
      expect(refused.message).toMatch(/backref.*cannot be used: .*RE2/);
    }, 30_000);

    it('refuses a JSON Schema pattern RE2 cannot run, and validates a catastrophic one in linear time', async () => {
      const refused = await failure(call(validationRegisterSchema, { id: 'trust/backref', schema: { type: 'string', pattern: '^(a)\\1$' } }));
      expect(refused.code).toBe('INVALID_INPUT');
      expect(refused.message).toMatch(/^schema: pattern "\^\(a\)\\\\1\$" cannot be used: .*backreferences/);
      const lookahead = await failure(call(validationRegisterSchema, { id: 'trust/look', schema: { type: 'object', patternProperties: { '^(?!x-)': { type: 'string' } } } }));
      expect(lookahead.message).toMatch(/pattern "\^\(\?!x-\)" cannot be used/);

      await call(validationRegisterSchema, { id: 'trust/redos', schema: { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } }, patternProperties: { '^(b+)+$': { type: 'number' } } } });
      const checked = await call(validationValidate, { schemaId: 'trust/redos', value: { s: `${'a'.repeat(40)}!`, [`${'b'.repeat(40)}!`]: 'x' } });
      expect(checked.valid).toBe(false);
      expect(checked.errors).toContainEqual({ pointer: '/s', message: 'must match pattern "^(a+)+$"' });
      expect((await call(validationValidate, { schemaId: 'trust/redos', value: { s: 'aaaa', bbb: 3 } })).valid).toBe(true);
    });

    it('refuses a policy estimated over policyCostLimit, and cuts off one that goes over it when evaluated (deny fails closed)', async () => {
      const costly = await failure(call(governanceSetPolicy, { id: 'costly', target: 'taxonomy_tree', expression: nested(thirty, 6), effect: 'deny', message: 'm' }));
      expect(costly.code).toBe('INVALID_INPUT');
      expect(costly.message).toMatch(/about 754,137,930 steps per evaluation, over the policyCostLimit of 100,000 \(governance\.settings\.policyCostLimit\)/);

      // Ranges from the request: unknown when set, counted when evaluated.
      await call(governanceSetPolicy, { id: 'dyn-deny', target: 'taxonomy_tree', expression: `!(${nested('request.items', 6)})`, effect: 'deny', message: 'never fires' });
      await call(governanceSetPolicy, { id: 'dyn-warn', target: 'taxonomy_tree', expression: `!(${nested('request.items', 6)})`, effect: 'warn', message: 'never fires' });
      const decision = await call(governanceCheck, { target: 'taxonomy_tree', input: { request: { items: Array.from({ length: 30 }, (_, i) => i) } } });
      expect(decision.allow).toBe(false);
      // 30^6 steps: cut off by the step budget, or by the time budget first on a loaded machine.
      const cutOff = /evaluation stopped after (100000 comprehension steps, the policyCostLimit \(governance\.settings\.policyCostLimit\)|200 ms, the policyTimeoutMs \(governance\.settings\.policyTimeoutMs\))/;
      expect(decision.violations).toEqual([{ policy: 'dyn-deny', message: expect.stringMatching(cutOff) }]);
      expect(decision.warnings).toEqual([{ policy: 'dyn-warn', message: expect.stringMatching(cutOff) }]);
      // Small inputs stay within the budget: the policy answers.
      expect((await call(governanceCheck, { target: 'taxonomy_tree', input: { request: { items: [1, 2] } } })).allow).toBe(true);
    });

    it('http_request refuses an allowed name that resolves to a loopback address outside httpAllowedNetworks, and the metadata address', async () => {
      // 127.0.0.1/32 is allowed; localhost may resolve to ::1 (refused) or 127.0.0.1 (allowed), so ask for another loopback address.
      const result = await run([
        { id: 'loop', action: 'http_request', input: { url: `http://127.0.0.2:${port}/` } },
        { id: 'meta', action: 'http_request', input: { url: 'http://169.254.169.254/latest/meta-data/' } },
      ]);
      const s = await status(result.runId);
      expect(s.nodes.find((n) => n.id === 'loop')).toMatchObject({ status: 'failed', attempts: 1 });
      expect(s.nodes.find((n) => n.id === 'loop')!.error).toMatch(/"127\.0\.0\.2" resolves to 127\.0\.0\.2, in 127\.0\.0\.0\/8 \(loopback\).*DAG_engine\.settings\.httpAllowedNetworks \(env DAG_HTTP_ALLOWED_NETWORKS\)/);
      expect(s.nodes.find((n) => n.id === 'meta')!.error).toMatch(/in 169\.254\.0\.0\/16 \(link-local; cloud metadata services answer there\).*httpAllowedNetworks/);
    }, 30_000);

    it('http_request reaches an allowed network, sends $secret() header values, keeps them out of outputs and the audit log, and does not follow redirects', async () => {
      seen.length = 0;
      const result = await run([
        { id: 'call', action: 'http_request', input: { url: `http://127.0.0.1:${port}/hook`, headers: { authorization: `="Bearer " & $secret("${SECRET_NAME}")`, 'x-hook-signature': `=$secret("${SECRET_NAME}")` } } },
        { id: 'moved', action: 'http_request', input: { url: `http://127.0.0.1:${port}/redirect` } },
      ]);
      expect(result.status).toBe('succeeded');
      expect(seen.map((h) => h.authorization)).toContain(`Bearer ${SECRET_VALUE}`);
      expect(seen.map((h) => h['x-hook-signature'])).toContain(SECRET_VALUE);
      const s = await status(result.runId);
      expect(s.nodes.find((n) => n.id === 'call')).toMatchObject({ status: 'succeeded', output: { status: 200, body: { ok: true } } });
      expect(s.nodes.find((n) => n.id === 'moved')).toMatchObject({ status: 'succeeded', output: { status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } } });
      expect(seen).toHaveLength(2); // the redirect was not followed
      expect(JSON.stringify(s)).not.toContain(SECRET_VALUE);
      const audit = await call(governanceAuditQuery, { operation: 'dag_run', limit: 100 });
      expect(JSON.stringify(audit)).toContain(`$secret(\\"${SECRET_NAME}\\")`);
      expect(JSON.stringify(audit)).not.toContain(SECRET_VALUE);
    }, 30_000);

    it('refuses $secret outside http_request headers with the definition, and secrets that are not set when the node runs', async () => {
      for (const misuse of [
        { id: 'leak', action: 'transform', input: { token: `=$secret("${SECRET_NAME}")` } },
        { id: 'leak', action: 'http_request', input: { url: `="http://127.0.0.1:${port}/" & $secret("${SECRET_NAME}")` } },
        { id: 'leak', action: 'noop', when: `$secret("${SECRET_NAME}") = "x"` },
      ]) {
        const refused = await failure(run([misuse]));
        expect(refused.code).toBe('INVALID_INPUT');
        expect(refused.message).toMatch(/leak.*\$secret\(\) may be used only in the header values of an http_request node's input/);
      }
      const result = await run([
        { id: 'unknown', action: 'http_request', input: { url: `http://127.0.0.1:${port}/`, headers: { 'x-upstream-key': '=$secret("NOT_SET_ANYWHERE")' } } },
        { id: 'env', action: 'http_request', input: { url: `http://127.0.0.1:${port}/`, headers: { 'x-db': '=$secret("../DATABASE_URL")' } } },
      ]);
      const s = await status(result.runId);
      expect(s.nodes.find((n) => n.id === 'unknown')!.error).toMatch(/no such secret on this server; .*MCP_SECRET_NOT_SET_ANYWHERE.*secretEnvPrefix/);
      expect(s.nodes.find((n) => n.id === 'env')!.error).toMatch(/a secret name is upper-case letters/);
      expect(JSON.stringify(s)).not.toContain(SECRET_VALUE);
    }, 30_000);
  });
}
