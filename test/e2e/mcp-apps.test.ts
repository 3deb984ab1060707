/*
 * MCP Apps (issue 21): the promotion review and the run graph are ui:// resources
 * (text/html;profile=mcp-app) read through the invoke path (scope, policy, audit), linked from
 * promotion_request, promotion_status, dag_run and dag_status by `_meta.ui.resourceUri`, and
 * the apps render real tool results in real Chromium: a tiny host page runs each app in a
 * sandboxed iframe, answers `ui/initialize`, sends `ui/notifications/tool-input` and
 * `tool-result`, and forwards the app's `tools/call` to this server over MCP; axe-core finds no
 * accessibility violation in the app, and nothing is fetched.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { governanceAuditQuery } from '../../tools/governance.js';
import { registryPublish } from '../../tools/registry.js';
import { promotionApprove, promotionRequest } from '../../tools/promotion.js';
import { MCP_APP_MIME_TYPE } from '../../src/surface/mcp-app.js';
import { PROMOTION_REVIEW_APP_URI, RUN_GRAPH_APP_URI } from '../../src/surface/uris.js';
import { ADMIN, appBackends } from '../helpers/backends.js';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const APP_TOOLS: Record<string, string> = {
  promotion_request: PROMOTION_REVIEW_APP_URI,
  promotion_status: PROMOTION_REVIEW_APP_URI,
  dag_run: RUN_GRAPH_APP_URI,
  dag_status: RUN_GRAPH_APP_URI,
};
const dana = { principal: { id: 'dana', scopes: ['registry:write', 'registry:read', 'promotion:request', 'promotion:read'] } };

async function connect(s: ApiServer, key: string): Promise<Client> {
  const client = new Client({ name: 'mcp-apps-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${s.origin}/mcp`), { requestInit: { headers: { 'x-api-key': key } } }));
  return client;
}

type ToolResult = { isError?: boolean; structuredContent?: Record<string, unknown>; content?: unknown };

describe('MCP Apps', () => {
  let s: ApiServer;
  let operator: Client;
  let outsider: Client;

  beforeAll(async () => {
    s = await startApiServer(appBackends()[0]!, { env: { API_KEY_ENABLED: 'true' } });
    const keys = await s.app.apiKeys();
    const operatorKey = (await keys.create({ name: 'operator', scopes: ['promotion:read', 'promotion:request', 'registry:read', 'dag:read', 'dag:run'] })).key;
    const outsiderKey = (await keys.create({ name: 'outsider', scopes: ['registry:read'] })).key;
    operator = await connect(s, operatorKey);
    outsider = await connect(s, outsiderKey);
  }, 120_000);
  afterAll(async () => {
    await operator?.close();
    await outsider?.close();
    await s?.close();
  });

  it('links the four tools to their app in tools/list, and no other tool', async () => {
    const { tools } = await operator.listTools();
    const linked = Object.fromEntries(tools.filter((t) => t._meta?.ui !== undefined).map((t) => [t.name, (t._meta!.ui as { resourceUri: string }).resourceUri]));
    expect(linked).toEqual(APP_TOOLS);
    expect(tools.length).toBeGreaterThan(20);
    // The whole list, _meta included, stays within the budget (~4 characters per token).
    expect(JSON.stringify(tools).length / 4).toBeLessThan(10_000);
  });

  it('serves each app as self-contained HTML with the MCP Apps mime type, through the invoke path', async () => {
    for (const uri of [PROMOTION_REVIEW_APP_URI, RUN_GRAPH_APP_URI]) {
      const { contents } = await operator.readResource({ uri });
      expect(contents).toHaveLength(1);
      const [body] = contents as { uri: string; mimeType: string; text: string }[];
      expect(body!.uri).toBe(uri);
      expect(body!.mimeType).toBe(MCP_APP_MIME_TYPE);
      expect(body!.text).toMatch(/^<!doctype html>/);
      expect(body!.text).toContain('ui/initialize');
      expect(body!.text).toContain('ui/notifications/tool-result');
      // Nothing to fetch: no external script, stylesheet or import left.
      expect(body!.text).not.toMatch(/<(script|link)[^>]+(src|href)=|^\s*import\s|https?:\/\/(?!www\.w3\.org\/2000\/svg)/m);
    }
    expect(((await operator.readResource({ uri: RUN_GRAPH_APP_URI })).contents[0] as { text: string }).text).toContain('function runGraph(');
  });

  it('refuses a key without the scope, and audits the reads', async () => {
    for (const [uri, scope] of [
      [PROMOTION_REVIEW_APP_URI, 'promotion:read'],
      [RUN_GRAPH_APP_URI, 'dag:read'],
    ] as const) {
      await expect(outsider.readResource({ uri })).rejects.toThrow(new RegExp(scope));
    }
    const audited = async () => {
      const { records } = (await s.app.invoke(governanceAuditQuery, { limit: 100 }, { principal: { id: 'auditor', scopes: ['*'] } })) as { records: { surface: string; resource: string; outcome: string; principalName: string }[] };
      return records.filter((r) => r.surface === 'resource' && r.resource.startsWith('ui://')).map((r) => `${r.resource} ${r.principalName} ${r.outcome}`);
    };
    await expect
      .poll(audited)
      .toEqual(expect.arrayContaining([`${RUN_GRAPH_APP_URI} operator ok`, `${PROMOTION_REVIEW_APP_URI} operator ok`, `${RUN_GRAPH_APP_URI} outsider denied`, `${PROMOTION_REVIEW_APP_URI} outsider denied`]));
  });

  it('keeps the text result of a linked tool as it is for clients without Apps', async () => {
    const run = (await operator.callTool({ name: 'dag_run', arguments: { wait: true, definition: { name: 'apps/plain', nodes: [{ id: 'only', action: 'noop' }] } } })) as ToolResult;
    expect(run.isError).toBeFalsy();
    expect(run.structuredContent).toMatchObject({ status: 'succeeded' });
    expect(JSON.stringify(run.content)).not.toContain('ui://');
  });

  describe.skipIf(!CHROMIUM)(`in Chromium${CHROMIUM ? '' : ' (skipped: set CHROMIUM_PATH)'}`, () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    });
    afterAll(async () => {
      await browser?.close();
    });

    /** A host page running the app of `uri` in a sandboxed iframe, given one tool call's input and result. */
    async function host(uri: string, input: Record<string, unknown>, result: ToolResult): Promise<{ page: Page; problems: string[]; calls: string[] }> {
      const html = ((await operator.readResource({ uri })).contents[0] as { text: string }).text;
      const page = await browser.newPage();
      const problems: string[] = [];
      const calls: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      await page.route(/.*/, (route) => {
        problems.push(`request: ${route.request().url()}`);
        return route.abort();
      });
      await page.exposeFunction('serverTool', async (name: string, args: string) => {
        calls.push(name);
        return JSON.stringify(await operator.callTool({ name, arguments: JSON.parse(args) as Record<string, unknown> }));
      });
      await page.setContent('<!doctype html><html lang="en"><head><title>host</title></head><body></body></html>');
      await page.evaluate(
        ({ html, input, result }) => {
          // The test's TypeScript has no DOM library: the few browser shapes used here.
          interface Frame {
            setAttribute(name: string, value: string): void;
            title: string;
            style: Record<string, string>;
            srcdoc: string;
            contentWindow: { postMessage(message: unknown, target: string): void } | null;
          }
          const w = globalThis as unknown as {
            serverTool(name: string, args: string): Promise<string>;
            addEventListener(type: 'message', listener: (event: { source: unknown; data: unknown }) => void): void;
            document: { createElement(tag: 'iframe'): Frame; body: { append(node: Frame): void } };
          };
          const frame = w.document.createElement('iframe');
          frame.setAttribute('sandbox', 'allow-scripts');
          frame.title = 'app';
          frame.style.width = '900px';
          frame.style.height = '700px';
          const reply = (message: Record<string, unknown>) => frame.contentWindow!.postMessage({ jsonrpc: '2.0', ...message }, '*');
          w.addEventListener('message', (event) => {
            if (event.source !== frame.contentWindow) return;
            const m = event.data as { id?: number; method?: string; params?: { protocolVersion?: string; name?: string; arguments?: unknown } };
            if (m.method === 'ui/initialize') {
              reply({ id: m.id, result: { protocolVersion: m.params!.protocolVersion, hostInfo: { name: 'test-host', version: '1.0.0' }, hostCapabilities: { serverTools: {} }, hostContext: { theme: 'light' } } });
            } else if (m.method === 'ui/notifications/initialized') {
              reply({ method: 'ui/notifications/tool-input', params: { arguments: input } });
              reply({ method: 'ui/notifications/tool-result', params: result });
            } else if (m.method === 'tools/call') {
              void w.serverTool(m.params!.name!, JSON.stringify(m.params!.arguments ?? {})).then((text) => reply({ id: m.id, result: JSON.parse(text) as unknown }));
            }
          });
          frame.srcdoc = html;
          w.document.body.append(frame);
        },
        { html, input, result },
      );
      return { page, problems, calls };
    }

    /** axe-core's violations inside the app's frame. */
    async function axe(page: Page): Promise<string[]> {
      const frame = page.frames().find((f) => f !== page.mainFrame())!;
      await frame.evaluate(readFileSync(AXE, 'utf8'));
      return frame.evaluate(async () => {
        const { axe: run } = globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: { id: string; help: string }[] }> } };
        const result = await run.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
        return result.violations.map((v) => `${v.id}: ${v.help}`);
      });
    }

    const definition = { name: 'apps/graph', nodes: [{ id: 'fetch', action: 'noop' }, { id: 'train', action: 'noop', dependsOn: ['fetch'] }, { id: 'report', action: 'noop', dependsOn: ['train'] }] };

    it('draws a dag_status result as an SVG with the node ids and states', async () => {
      const run = (await operator.callTool({ name: 'dag_run', arguments: { wait: true, definition } })) as ToolResult;
      const input = { runId: run.structuredContent!.runId };
      const status = (await operator.callTool({ name: 'dag_status', arguments: input })) as ToolResult;
      const { page, problems, calls } = await host(RUN_GRAPH_APP_URI, input, status);
      const graph = page.frameLocator('iframe').locator('#run-graph svg');
      for (const id of ['fetch', 'train', 'report']) {
        await expect.poll(() => graph.locator(`g[data-node-id="${id}"] text.id`).textContent()).toBe(id);
        expect(await graph.locator(`g[data-node-id="${id}"]`).getAttribute('data-status')).toBe('succeeded');
      }
      expect(await page.frameLocator('iframe').locator('#status').textContent()).toContain('succeeded, 3 nodes');
      expect(calls).toEqual([]); // dag_status carries the nodes
      expect(await axe(page)).toEqual([]);
      expect(problems).toEqual([]);
      await page.close();
    });

    it('draws a dag_run result, reading the nodes with dag_status through the host', async () => {
      const input = { wait: true, definition: { ...definition, name: 'apps/graph-run' } };
      const run = (await operator.callTool({ name: 'dag_run', arguments: input })) as ToolResult;
      const { page, problems, calls } = await host(RUN_GRAPH_APP_URI, input, run);
      const graph = page.frameLocator('iframe').locator('#run-graph svg');
      await expect.poll(() => graph.locator('g[data-node-id]').count()).toBe(3);
      expect(calls).toEqual(['dag_status']);
      expect(problems).toEqual([]);
      await page.close();
    });

    it('shows a promotion request with its gates and the version against the environment alias', async () => {
      // 1.0.0 is in staging (approved by another principal); 1.1.0, in dev, is asked for staging.
      for (const version of ['1.0.0', '1.1.0']) await s.app.invoke(registryPublish, { name: 'acme/apps', version, content: `model ${version}` }, dana);
      await s.app.invoke(promotionRequest, { name: 'acme/apps', version: '1.0.0', environment: 'dev', reason: 'first' }, dana);
      const first = await s.app.invoke(promotionRequest, { name: 'acme/apps', version: '1.0.0', environment: 'staging', reason: 'first' }, dana);
      await s.app.invoke(promotionApprove, { requestId: first.requestId as string }, ADMIN);
      await s.app.invoke(promotionRequest, { name: 'acme/apps', version: '1.1.0', environment: 'dev', reason: 'next' }, dana);
      const input = { name: 'acme/apps', version: '1.1.0', environment: 'staging', reason: 'next' };
      const requested = (await operator.callTool({ name: 'promotion_request', arguments: input })) as ToolResult;
      expect(requested.isError).toBeFalsy();
      const { page, problems, calls } = await host(PROMOTION_REVIEW_APP_URI, input, requested);
      const app = page.frameLocator('iframe');
      await expect.poll(() => app.locator('#compare').count()).toBe(1);
      expect(await app.locator('#title').textContent()).toBe('acme/apps@1.1.0 → staging');
      const gates = (requested.structuredContent!.gates as { gate: string }[]).map((g) => g.gate);
      expect(requested.structuredContent!.status).toBe('pending_approval');
      expect(await app.locator('#status').textContent()).toContain('pending approval');
      expect(await app.locator('#gates tbody tr[data-gate]').count()).toBe(gates.length);
      const versionRow = app.locator('#compare tbody tr').first();
      expect(await versionRow.locator('td').allTextContents()).toEqual(['1.1.0', '1.0.0']);
      expect(calls).toEqual(['promotion_status', 'registry_get', 'registry_get']);
      expect(await axe(page)).toEqual([]);
      expect(problems).toEqual([]);
      await page.close();
    });
  });
});
