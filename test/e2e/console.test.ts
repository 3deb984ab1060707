/*
 * The operator console in a real browser (headless Chromium, Debian's /usr/bin/chromium, no
 * browser download): sign-in with an API key and a wrong key's error; the approvals inbox
 * with a request another principal made, approved from the page and checked through MCP; the
 * four-eyes refusal and a request decided elsewhere, in plain words; a run's graph with its
 * node ids, a run in progress followed live through its MCP subscription (and read every few
 * seconds while that is refused or cut off), another principal's run refused; the audit trail with the chain verified; the registry with a rollback; the RAG
 * playground's hits and citations; a key that stops working ends the session. No console
 * errors, no request leaves the server, and axe-core finds no accessibility violation. With
 * CI set, screenshots go to .ci-out/screenshots/.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { dagRun } from '../../tools/dag.js';
import { ragIngest } from '../../tools/rag.js';
import { promotionReject, promotionRequest } from '../../tools/promotion.js';
import { registryPublish } from '../../tools/registry.js';
import { ADMIN, appBackends } from '../helpers/backends.js';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { axe, CHROMIUM_SKIP, launchChromium, openConsole, shot } from '../helpers/console-browser.js';

const skip = CHROMIUM_SKIP;

const dana = { principal: { id: 'dana', scopes: ['registry:write', 'registry:read', 'promotion:request', 'promotion:read'] } };

describe.skipIf(skip)(`operator console${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let s: ApiServer;
  let browser: Browser;
  let operatorKey: string;
  let operator: { principal: { id: string; scopes: string[] } };
  let runId: string;
  const requests: Record<string, string> = {};

  beforeAll(async () => {
    s = await startApiServer(appBackends()[0]!);
    const scopes = ['promotion:read', 'promotion:request', 'promotion:approve', 'registry:read', 'dag:read', 'dag:run', 'governance:read', 'rag:read'];
    const made = await (await s.app.apiKeys()).create({ name: 'operator', scopes });
    operatorKey = made.key;
    operator = { principal: { id: `apikey:${made.id}`, scopes } };
    for (const version of ['1.0.0', '1.1.0', '1.2.0']) await s.app.invoke(registryPublish, { name: 'acme/churn', version, content: `model ${version}`, labels: { taxonomy: 'classifier' } }, dana);
    await s.app.invoke(registryPublish, { name: 'acme/fraud', version: '2.0.0', content: 'fraud model' }, dana);
    await s.app.invoke(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'dev', reason: 'nightly' }, dana);
    await s.app.invoke(promotionRequest, { name: 'acme/churn', version: '1.1.0', environment: 'dev', reason: 'nightly' }, dana);
    await s.app.invoke(promotionRequest, { name: 'acme/fraud', version: '2.0.0', environment: 'dev', reason: 'nightly' }, dana);
    // Two requests by dana (another principal: the operator may approve them), one by the operator.
    requests.byDana = (await s.app.invoke(promotionRequest, { name: 'acme/churn', version: '1.1.0', environment: 'staging', reason: 'ready for staging' }, dana)).requestId as string;
    requests.own = (await s.app.invoke(promotionRequest, { name: 'acme/fraud', version: '2.0.0', environment: 'staging', reason: 'my own' }, operator)).requestId as string;
    const run = await s.app.invoke(
      dagRun,
      { wait: true, definition: { name: 'demo/console', nodes: [{ id: 'fetch', action: 'noop' }, { id: 'train', action: 'noop', dependsOn: ['fetch'] }, { id: 'score', action: 'noop', dependsOn: ['fetch'] }, { id: 'report', action: 'noop', dependsOn: ['train', 'score'] }] } },
      operator,
    );
    runId = run.runId as string;
    await s.app.invoke(
      ragIngest,
      {
        collection: 'handbook',
        documents: [
          { id: 'night-trains', title: 'Night trains', text: 'The sleeper cabin on the night train to Vienna has two berths and a washbasin.' },
          { id: 'expenses', title: 'Expenses', text: 'Travel expenses are reimbursed within thirty days of the receipt.' },
        ],
      },
      ADMIN,
    );
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  const open = () => openConsole(browser, s.origin);

  async function signIn(page: Page, key = operatorKey): Promise<void> {
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('is served with its own strict Content-Security-Policy, from this server alone', async () => {
    const response = await fetch(`${s.origin}/console`);
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self';"); // OAuth is off: this origin only
    expect(csp).not.toContain('unsafe-inline');
    expect((await fetch(`${s.origin}/console/oauth-client.json`)).status).toBe(404);
    expect((await fetch(`${s.origin}/console/app.js`)).headers.get('content-type')).toContain('javascript');
    expect((await fetch(`${s.origin}/console/nope.js`)).status).toBe(404);
  });

  it('refuses a wrong key with a clear sign-in error', async () => {
    const { page, problems } = await open();
    await signIn(page, 'ml3_000000000000_wrong');
    await expect.poll(() => page.locator('#sign-in-error').innerText()).toContain('does not accept this API key');
    expect(await page.locator('#approvals').isHidden()).toBe(true);
    await shot(page, 'wrong-key');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('signs in, shows the pending request with gates and the alias comparison, approves it, and MCP sees it promoted', async () => {
    const { page, problems } = await open();
    await signIn(page);
    const card = page.locator(`article[data-request-id="${requests.byDana}"]`);
    await card.waitFor();
    const text = await card.innerText();
    expect(text).toContain('acme/churn@1.1.0 → staging');
    expect(text).toContain('Requested by dana');
    for (const gate of ['order', 'schema', 'policy', 'taxonomy']) expect(text).toContain(gate);
    expect(text).toContain('Nothing is promoted to staging yet');
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length)).toBe(1);
    expect(await axe(page)).toEqual([]);
    await shot(page, 'approvals');

    await card.getByLabel('Reason (required to reject)').fill('checked the gates');
    await card.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => card.locator('.outcome').innerText()).toContain('now promoted to staging');

    const client = new Client({ name: 'console-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${s.origin}/mcp`), { requestInit: { headers: { 'X-API-Key': operatorKey } } }));
    const status = await client.callTool({ name: 'promotion_status', arguments: { requestId: requests.byDana } });
    expect((status.structuredContent as { status: string }).status).toBe('promoted');
    await client.close();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the four-eyes refusal in plain words, and a request decided elsewhere as such', async () => {
    const { page, problems } = await open();
    await signIn(page);
    const own = page.locator(`article[data-request-id="${requests.own}"]`);
    await own.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => own.locator('.outcome').innerText()).toContain('four-eyes rule');
    expect(await own.locator('.outcome').innerText()).toContain('You asked for this promotion yourself');

    // Another request by dana, rejected through the API while the page shows it.
    await s.app.invoke(promotionRequest, { name: 'acme/churn', version: '1.2.0', environment: 'dev', reason: 'next' }, dana);
    const pending = (await s.app.invoke(promotionRequest, { name: 'acme/churn', version: '1.2.0', environment: 'staging', reason: 'next one' }, dana)).requestId as string;
    await page.getByRole('button', { name: 'Refresh' }).click();
    const card = page.locator(`article[data-request-id="${pending}"]`);
    await card.waitFor();
    expect(await card.innerText()).toMatch(/Now in staging[\s\S]*1\.1\.0/);
    await s.app.invoke(promotionReject, { requestId: pending, comment: 'not this week' }, { principal: { id: 'sam', scopes: ['promotion:approve', 'promotion:read'] } });
    await card.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => card.locator('.outcome').innerText()).toContain('Already decided elsewhere: this request is now rejected (rejected by sam)');
    await shot(page, 'decided-elsewhere');
    expect(problems.filter((p) => !/status of 409/.test(p))).toEqual([]);
    await page.close();
  });

  it("draws a run's graph with its node ids and states", async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('link', { name: runId }).click();
    const graph = page.locator('#run-graph svg');
    await graph.waitFor();
    for (const id of ['fetch', 'train', 'score', 'report']) {
      await expect.poll(() => graph.locator(`g[data-node-id="${id}"]`).getAttribute('data-status')).toBe('succeeded');
      expect(await graph.locator(`g[data-node-id="${id}"] text.id`).textContent()).toBe(id);
    }
    expect(await graph.locator('path.edge').count()).toBe(4);
    expect(await graph.locator('path.edge[data-from="fetch"][data-to="train"]').count()).toBe(1);
    expect(await axe(page)).toEqual([]);
    await shot(page, 'run-graph');
    expect(problems).toEqual([]);
    await page.close();
  });

  /** A run whose first node waits `ms`, then a second one; started by `by`. */
  const slowRun = async (ms: number, by = operator) =>
    (await s.app.invoke(dagRun, { definition: { name: 'demo/slow', nodes: [{ id: 'wait', action: 'delay', input: { ms } }, { id: 'after', action: 'noop', dependsOn: ['wait'] }] } }, by)).runId as string;

  it('follows a run in progress live through its subscription: the graph changes without a reload and without polling', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.locator('#approvals-status').filter({ hasText: 'awaiting approval' }).waitFor();
    const runId = await slowRun(8000);
    const statusReads: string[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.endsWith('/dag/status')) statusReads.push(request.url());
    });
    await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('link', { name: runId }).click();
    const live = page.locator('#run-live');
    const graph = page.locator('#run-graph svg');
    await expect.poll(() => live.getAttribute('data-state')).toBe('live');
    expect(await live.innerText()).toBe('Live: the graph changes as the run does.');
    await expect.poll(() => graph.locator('g[data-node-id="wait"]').getAttribute('data-status')).toBe('running');
    expect(await graph.locator('g[data-node-id="after"]').getAttribute('data-status')).toBe('pending');
    expect(await axe(page)).toEqual([]);
    await shot(page, 'run-live');
    // While nothing changes, nothing is fetched: no timer reads the run.
    const before = statusReads.length;
    await page.waitForTimeout(2500);
    expect(await graph.locator('g[data-node-id="wait"]').getAttribute('data-status')).toBe('running');
    expect(statusReads.length).toBe(before);
    await expect.poll(() => graph.locator('g[data-node-id="after"]').getAttribute('data-status'), { timeout: 15_000 }).toBe('succeeded');
    expect(await page.locator('#run-summary').innerText()).toBe('demo/slow: succeeded');
    await expect.poll(() => live.getAttribute('data-state')).toBe('ended');
    // Each read of the run's state followed a change the server announced on the stream (plus
    // the first drawing, and one when the subscription took effect): none came from a timer.
    const heard = Number(await live.getAttribute('data-updates'));
    expect(heard).toBeGreaterThanOrEqual(2);
    expect(statusReads.length).toBeLessThanOrEqual(heard + 2);
    expect(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says when live updates are refused, checks the run every few seconds meanwhile, and goes live again', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.locator('#approvals-status').filter({ hasText: 'awaiting approval' }).waitFor();
    const runId = await slowRun(12_000);
    await page.route('**/mcp', (route) => route.abort('connectionrefused'));
    await page.goto(`${s.origin}/console#runs/${runId}`);
    const live = page.locator('#run-live');
    await expect.poll(() => live.getAttribute('data-state')).toBe('polling');
    expect(await live.innerText()).toBe('Live updates are off: the server could not be reached. The run is checked every 5 seconds instead, and live updates are tried again each time.');
    await page.unroute('**/mcp');
    await expect.poll(() => live.getAttribute('data-state'), { timeout: 10_000 }).toBe('live');
    await expect.poll(() => page.locator('#run-graph svg g[data-node-id="after"]').getAttribute('data-status'), { timeout: 20_000 }).toBe('succeeded');
    // Only the refused connections this test made.
    expect(problems.filter((p) => !/\/mcp \(net::ERR_CONNECTION_REFUSED\)$|Failed to load resource: net::ERR_CONNECTION_REFUSED$/.test(p))).toEqual([]);
    await page.close();
  });

  it('falls back to reading the run when the live stream is cut off, and goes live again', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.locator('#approvals-status').filter({ hasText: 'awaiting approval' }).waitFor();
    const runId = await slowRun(12_000);
    await page.goto(`${s.origin}/console#runs/${runId}`);
    const live = page.locator('#run-live');
    await expect.poll(() => live.getAttribute('data-state')).toBe('live');
    s.dropConnections();
    await expect.poll(() => live.getAttribute('data-state')).toBe('polling');
    expect(await live.innerText()).toContain('Live updates are off: the connection to the server was lost.');
    await expect.poll(() => live.getAttribute('data-state'), { timeout: 10_000 }).toBe('live');
    await expect.poll(() => page.locator('#run-graph svg g[data-node-id="after"]').getAttribute('data-status'), { timeout: 20_000 }).toBe('succeeded');
    // Only the stream this test cut.
    expect(problems.filter((p) => !/\/mcp \(net::ERR_INCOMPLETE_CHUNKED_ENCODING\)$|Failed to load resource: net::ERR_INCOMPLETE_CHUNKED_ENCODING$/.test(p))).toEqual([]);
    await page.close();
  });

  it("refuses to follow another principal's run, as every surface does", async () => {
    const other = await (await s.app.apiKeys()).create({ name: 'other-operator', scopes: ['dag:read', 'dag:run'] });
    const runId = await slowRun(3000);
    const { page, problems } = await open();
    await signIn(page, other.key);
    await page.goto(`${s.origin}/console#runs/${runId}`);
    await expect.poll(() => page.locator('#run-summary').innerText()).toMatch(/no run/i);
    expect(await page.locator('#run-live').getAttribute('data-state')).toBe('off');
    // The live channel itself, asked directly from the page: refused before any stream opens.
    // (A string: the test runner would rewrite an import() in a function.)
    const refusal = await page.evaluate(`import('/console/live.js').then((live) => live.listen([${JSON.stringify(`dag://runs/${runId}`)}], { onUpdate() {}, onDrop() {} })).then(() => 'opened', (error) => error.status + ': ' + error.message)`);
    expect(refusal).toMatch(/^404: .*no run/i);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the audit trail with filters and the chain verified', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await expect.poll(() => page.locator('#audit-chain').innerText()).toMatch(/^Chain verified: all \d+ records are intact\.$/);
    await page.getByLabel('Operation').fill('promotion_approve');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(async () => (await page.locator('#audit-table tbody tr').allInnerTexts()).join('\n')).toContain('promotion_approve');
    const rows = await page.locator('#audit-table tbody tr').allInnerTexts();
    expect(rows.every((row) => row.includes('promotion_approve'))).toBe(true);
    expect(rows.some((row) => row.includes('denied (FORBIDDEN)'))).toBe(true); // the four-eyes refusal
    // By principal, and by time: nothing after tomorrow.
    await page.getByLabel('Operation').fill('');
    await page.getByLabel('Principal').fill(operator.principal.id);
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(async () => (await page.locator('#audit-table tbody tr').allInnerTexts()).every((row) => row.includes(operator.principal.id))).toBe(true);
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, '0')}-${String(tomorrow.getDate()).padStart(2, '0')}T00:00:00`;
    await page.getByLabel('Since').fill(local);
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('#audit-status').innerText()).toBe('No audit record matches.');
    await page.getByLabel('Since').fill('');
    await page.getByLabel('Until').fill(local);
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => page.locator('#audit-table tbody tr').count()).toBeGreaterThan(0);
    expect(await axe(page)).toEqual([]);
    await shot(page, 'audit');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows an artifact\'s versions, aliases and promotion history, and rolls an environment back', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'Registry' }).click();
    await page.getByLabel('Name prefix').fill('acme/');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('link', { name: 'acme/churn' }).first().click();
    await expect.poll(() => page.locator('#artifact-status').innerText()).toMatch(/^3 versions, \d+ alias moves\.$/);
    const versions = await page.locator('#artifact-versions tbody tr').allInnerTexts();
    expect(versions.find((row) => row.startsWith('1.1.0'))).toContain('staging');
    expect(versions.find((row) => row.startsWith('1.2.0'))).toMatch(/latest, dev/);
    expect(await page.locator('#artifact-history').innerText()).toContain('promote');
    expect(await axe(page)).toEqual([]);
    await page.getByRole('button', { name: 'Roll back dev' }).click();
    await expect.poll(() => page.locator('#rollback-outcome').innerText()).toBe('Rolled back: dev now points at acme/churn@1.1.0 (was 1.2.0).');
    const now = await fetch(`${s.origin}/api/v1/registry/get?name=acme/churn&alias=dev&includeContent=false`, { headers: { 'x-api-key': operatorKey } });
    expect(((await now.json()) as { version: string }).version).toBe('1.1.0');
    await shot(page, 'registry');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('queries a collection in the RAG playground and shows hits with their citations', async () => {
    const { page, problems } = await open();
    await signIn(page);
    await page.getByRole('link', { name: 'RAG playground' }).click();
    await expect.poll(() => page.getByLabel('Collection').inputValue()).toBe('handbook');
    await page.getByLabel('full text').check();
    await page.getByLabel('Query').fill('sleeper cabin');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#rag-status').innerText()).toMatch(/hits?, best first \(fulltext\)/);
    const first = page.locator('#rag-hits li').first();
    expect(await first.locator('.citation').innerText()).toMatch(/^night-trains \(Night trains\), characters 0–\d+/);
    expect(await first.locator('blockquote').innerText()).toContain('sleeper cabin');
    expect(await axe(page)).toEqual([]);
    await shot(page, 'rag');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('ends the session with a message when the key stops working', async () => {
    const { page, problems } = await open();
    const short = await (await s.app.apiKeys()).create({ name: 'short-lived', scopes: ['promotion:read', 'registry:read'], expiresInSeconds: 3600 });
    await signIn(page, short.key);
    await page.locator('#approvals-status').filter({ hasText: 'awaiting approval' }).waitFor();
    await (await s.app.apiKeys()).revoke(short.id);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.locator('#session-message').innerText()).toContain('Your session has ended');
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length)).toBe(0);
    await shot(page, 'session-ended');
    expect(problems).toEqual([]);
    await page.close();
  });
});
