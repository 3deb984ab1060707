/*
 * The API reference page in a real browser (headless Chromium): it loads from this server
 * alone, lists the operations, and logs no console errors.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appBackends } from '../helpers/backends.js';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
const skip = CHROMIUM ? undefined : 'set CHROMIUM_PATH to a Chromium binary (apt-get install chromium)';

describe.skipIf(skip)(`API reference page${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let s: ApiServer;
  let browser: Browser;
  beforeAll(async () => {
    s = await startApiServer(appBackends()[0]!);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('loads, lists every operation, and logs no console errors or failed requests', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    // Nothing may come from anywhere but this server (no CDN).
    await page.route(/^(?!http:\/\/127\.0\.0\.1:)/, (route) => {
      problems.push(`external request: ${route.request().url()}`);
      return route.abort();
    });

    await page.goto(`${s.origin}/api/docs`, { waitUntil: 'networkidle' });
    await page.waitForSelector('.opblock-summary-operation-id, .opblock-summary-path', { timeout: 15_000 });
    expect(await page.title()).toContain('mcp-level3');
    const text = await page.locator('#swagger-ui').innerText();
    for (const op of s.app.operations) {
      const path = `/api/v1/${op.engine}/${op.name.slice(op.engine.length + 1)}`;
      expect(text, op.name).toContain(path);
    }
    expect(text).toContain('/api/v1/rpc');
    expect(problems).toEqual([]);
  });
});
