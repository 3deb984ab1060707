/*
 * The operator console in headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH; no
 * browser download), for the console suites: launching it, a page that records every problem
 * (console errors, page errors, failed requests, requests to any origin not allowed), axe-core's
 * accessibility check, and screenshots into .ci-out/screenshots/ when CI is set.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
export const CHROMIUM_SKIP = CHROMIUM ? undefined : 'set CHROMIUM_PATH to a Chromium binary (apt-get install chromium)';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const SHOTS = join(process.cwd(), '.ci-out', 'screenshots');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
}

/**
 * A page on the console at `origin`/console that records console errors, page errors,
 * failed requests and any request to an origin other than `origin` and `allowed`.
 */
export async function openConsole(browser: Browser, origin: string, allowed: string[] = []): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/status of 40[134]/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // The page closing a run's live stream (subscriptions/listen on /mcp) once it is done with it.
    if (new URL(request.url()).pathname === '/mcp' && request.failure()?.errorText === 'net::ERR_ABORTED') return;
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
  });
  const origins = new Set([origin, ...allowed]);
  await page.route((url) => !origins.has(url.origin), (route) => {
    problems.push(`external request: ${route.request().url()}`);
    return route.abort();
  });
  await page.goto(`${origin}/console`, { waitUntil: 'networkidle' });
  return { page, problems };
}

/** axe-core's violations on the page, as "rule: help (count)". */
export async function axe(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (rightly) refuses an injected <script>.
  await page.evaluate(readFileSync(AXE, 'utf8'));
  return page.evaluate(async () => {
    const result = await (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: { id: string; help: string; nodes: unknown[] }[] }> } }).axe.run((globalThis as unknown as { document: unknown }).document, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
  });
}

/** With CI set, a full-page screenshot to .ci-out/screenshots/console-<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
  if (!process.env.CI) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage: true });
}
