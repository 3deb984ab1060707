/*
 * The operator console's OAuth sign-in in a real browser (headless Chromium): with OAuth on,
 * the sign-in page offers "Sign in with <issuer>", found through the server's protected
 * resource metadata and the issuer's own; the authorization code flow with PKCE runs in the
 * page against a local authorization server (test/helpers/oauth-server.ts) on another origin,
 * with the client id the server names or one registered dynamically; the access token is
 * kept in the tab and sent as a bearer token, to the REST API and to a run's live stream. A
 * denied sign-in and an expired token are told in plain words; the API key field still works.
 * The page's PKCE and discovery checks are run in the page too. No console errors, no request
 * off the two origins, and axe-core finds no violation.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dagRun } from '../../tools/dag.js';
import { promotionRequest } from '../../tools/promotion.js';
import { registryPublish } from '../../tools/registry.js';
import { appBackends } from '../helpers/backends.js';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { axe, CHROMIUM_SKIP, launchChromium, openConsole, shot } from '../helpers/console-browser.js';
import { startOAuthServer, type OAuthServer } from '../helpers/oauth-server.js';

const RESOURCE = 'https://mcp.console.test/mcp';
const SCOPES = ['promotion:read', 'promotion:request', 'registry:read', 'registry:write', 'dag:read', 'dag:run', 'governance:read'];
const olivia = { principal: { id: 'oauth:olivia', scopes: SCOPES } };
const dana = { principal: { id: 'dana', scopes: ['registry:write', 'registry:read', 'promotion:request', 'promotion:read'] } };
const storageLength = (page: Page) => page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length);

/** An API server taking OAuth tokens from `issuer` (and API keys), the console's client id set or not. */
const startServer = (issuer: string, clientId: string) =>
  startApiServer(appBackends()[0]!, {
    env: { API_KEY_ENABLED: 'true', OAUTH_ENABLED: 'true', OAUTH_ISSUER: issuer, MCP_RESOURCE_URL: RESOURCE, OAUTH_CLIENT_ID: clientId, RATE_LIMIT_FAILED_AUTH_PER_MINUTE: '1000' },
  });

describe.skipIf(CHROMIUM_SKIP)(`operator console: OAuth sign-in${CHROMIUM_SKIP ? ` (skipped: ${CHROMIUM_SKIP})` : ''}`, () => {
  let as: OAuthServer;
  let s: ApiServer;
  let browser: Browser;
  let pending: string;

  beforeAll(async () => {
    as = await startOAuthServer({ subject: 'olivia', scopes: SCOPES });
    s = await startServer(as.issuer, 'console');
    as.addClient('console', [`${s.origin}/console`]);
    await s.app.invoke(registryPublish, { name: 'acme/churn', version: '1.0.0', content: 'model' }, dana);
    await s.app.invoke(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'dev', reason: 'first' }, dana);
    pending = (await s.app.invoke(promotionRequest, { name: 'acme/churn', version: '1.0.0', environment: 'staging', reason: 'next' }, dana)).requestId as string;
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await s?.close();
    await as?.close();
  });

  const open = () => openConsole(browser, s.origin, [as.issuer]);
  const oauthButton = (page: Page) => page.getByRole('button', { name: `Sign in with ${as.issuer}` });

  it("widens the page's Content-Security-Policy by the issuer's origin only", async () => {
    const csp = (await fetch(`${s.origin}/console`)).headers.get('content-security-policy')!;
    expect(csp).toContain(`connect-src 'self' ${as.issuer};`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await (await fetch(`${s.origin}/console/oauth-client.json`)).json()).toMatchObject({ client_id: 'console' });
  });

  it('signs in with the issuer by authorization code and PKCE, and calls the API and the live stream with the token', async () => {
    const { page, problems } = await open();
    await oauthButton(page).click();
    const card = page.locator(`article[data-request-id="${pending}"]`);
    await card.waitFor();
    expect(page.url()).toBe(`${s.origin}/console#approvals`); // the code and state are off the address bar
    const asked = as.authorizations.at(-1)!;
    expect(asked).toMatchObject({ response_type: 'code', client_id: 'console', redirect_uri: `${s.origin}/console`, code_challenge_method: 'S256', resource: RESOURCE });
    expect(asked.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.scope!.split(' ')).toEqual(expect.arrayContaining(['promotion:read', 'dag:read']));
    expect(await storageLength(page)).toBe(1); // the session; the flow's verifier and state are gone
    expect(await axe(page)).toEqual([]);
    await shot(page, 'oauth-signed-in');

    // Every call carries the token: the audit trail names the principal it proves.
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByLabel('Principal').fill('oauth:olivia');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(async () => (await page.locator('#audit-table tbody tr').allInnerTexts()).join('\n')).toContain('promotion_pending');

    // And so does a run's live stream.
    const { runId } = (await s.app.invoke(dagRun, { definition: { name: 'demo/oauth', nodes: [{ id: 'wait', action: 'delay', input: { ms: 2000 } }, { id: 'after', action: 'noop', dependsOn: ['wait'] }] } }, olivia)) as { runId: string };
    await page.goto(`${s.origin}/console#runs/${runId}`);
    await expect.poll(() => page.locator('#run-live').getAttribute('data-state')).toBe('live');
    await expect.poll(() => page.locator('#run-graph svg g[data-node-id="after"]').getAttribute('data-status'), { timeout: 15_000 }).toBe('succeeded');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says so in plain words when the issuer does not grant access', async () => {
    const { page, problems } = await open();
    as.denyNext();
    await oauthButton(page).click();
    await expect.poll(() => page.locator('#sign-in-error').innerText()).toBe(`Sign-in failed: ${as.issuer} did not grant access: the user declined`);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await storageLength(page)).toBe(0);
    expect(page.url()).not.toContain('error=');
    await shot(page, 'oauth-denied');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('ends the session with a message when the access token expires', async () => {
    const { page, problems } = await open();
    // Valid for 3 s more: the server tolerates 60 s of clock skew (oauth2.clock_skew).
    as.tokenLifetime = -57;
    try {
      await oauthButton(page).click();
      await page.locator('#approvals-status').filter({ hasText: 'awaiting approval' }).waitFor();
    } finally {
      as.tokenLifetime = 600;
    }
    await page.waitForTimeout(3500);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.locator('#session-message').innerText()).toBe(`Your session has ended: the server no longer accepts your sign-in with ${as.issuer} (the access token expired or was refused). Sign in again.`);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await storageLength(page)).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('keeps the API key field', async () => {
    const { key } = await (await s.app.apiKeys()).create({ name: 'operator', scopes: ['promotion:read'] });
    const { page, problems } = await open();
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.locator(`article[data-request-id="${pending}"]`).waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  it("checks PKCE and the issuer's metadata in the page", async () => {
    const { page, problems } = await open();
    const results = (await page.evaluate(`(async () => {
      const oauth = await import('/console/oauth.js');
      const outcome = (promise) => promise.then(() => 'accepted', (error) => error.message);
      const answer = (body) => async () => new Response(JSON.stringify(body), { status: 200 });
      const good = { issuer: 'https://login.example', authorization_endpoint: 'https://login.example/authorize', token_endpoint: 'https://login.example/token', code_challenge_methods_supported: ['S256'] };
      return {
        // RFC 7636 appendix B
        challenge: await oauth.codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
        verifier: oauth.randomToken(32),
        urls: oauth.metadataUrls('https://login.example/tenant/1/'),
        rootUrls: oauth.metadataUrls('https://login.example'),
        good: await outcome(oauth.authorizationServer('https://login.example', answer(good))),
        noPkce: await outcome(oauth.authorizationServer('https://login.example', answer({ ...good, code_challenge_methods_supported: ['plain'] }))),
        otherIssuer: await outcome(oauth.authorizationServer('https://login.example', answer({ ...good, issuer: 'https://evil.example' }))),
        tokenElsewhere: await outcome(oauth.authorizationServer('https://login.example', answer({ ...good, token_endpoint: 'https://tokens.example/token' }))),
        unreadable: await outcome(oauth.authorizationServer('https://login.example', async () => { throw new TypeError('Failed to fetch'); })),
        strayAnswer: await outcome(oauth.completeSignIn('?code=abc&state=not-mine')),
        url: oauth.authorizationUrl({ endpoint: 'https://login.example/authorize?tenant=1', clientId: 'c', redirectUri: 'https://mcp.example/console', challenge: 'x', state: 's', scopes: ['a', 'b'], resource: 'https://mcp.example/mcp' }),
      };
    })()`)) as Record<string, unknown>;
    expect(results.challenge).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    expect(results.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(results.urls).toEqual([
      'https://login.example/.well-known/oauth-authorization-server/tenant/1',
      'https://login.example/.well-known/openid-configuration/tenant/1',
      'https://login.example/tenant/1/.well-known/openid-configuration',
    ]);
    expect(results.rootUrls).toEqual(['https://login.example/.well-known/oauth-authorization-server', 'https://login.example/.well-known/openid-configuration']);
    expect(results.good).toBe('accepted');
    expect(results.noPkce).toContain('does not say it supports PKCE with S256');
    expect(results.otherIssuer).toContain('is for the issuer "https://evil.example"');
    expect(results.tokenElsewhere).toContain('is on another origin than the issuer');
    expect(results.unreadable).toMatch(/publishes no authorization server metadata this page can read: .*could not be read/);
    expect(results.strayAnswer).toContain('does not belong to a sign-in started in this tab');
    expect(results.url).toBe('https://login.example/authorize?tenant=1&response_type=code&client_id=c&redirect_uri=https%3A%2F%2Fmcp.example%2Fconsole&code_challenge=x&code_challenge_method=S256&state=s&resource=https%3A%2F%2Fmcp.example%2Fmcp&scope=a+b');
    expect(problems).toEqual([]);
    await page.close();
  });

  describe('without a client id on the server', () => {
    let bare: ApiServer;
    beforeAll(async () => {
      bare = await startServer(as.issuer, '');
    }, 60_000);
    afterAll(async () => {
      await bare?.close();
    });

    it('registers the console with the issuer (dynamic client registration) and signs in', async () => {
      const { page, problems } = await openConsole(browser, bare.origin, [as.issuer]);
      const before = as.registered.length;
      await oauthButton(page).click();
      await expect.poll(() => page.locator('#approvals-status').innerText()).toBe('No promotion request is awaiting approval.');
      expect(as.registered.length).toBe(before + 1);
      expect(as.authorizations.at(-1)!.client_id).toBe(as.registered.at(-1));
      expect(problems).toEqual([]);
      await page.close();
    });
  });
});
