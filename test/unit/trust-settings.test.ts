/*
 * The settings behind issue 17's rows 6 and 10: who the client is behind proxies
 * (security.trust_proxy, proxy-trust.ts) and the one redaction list (logging.redact) the
 * logger and the audit log's argument redaction follow.
 */
import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { authConfigFileSchema, engineMapFileSchema } from '../../src/config/schema.js';
import { KNOWN_SCOPES, unknownScopesProblem } from '../../tools/scopes.js';
import { createLogger } from '../../src/platform/log.js';
import { DEFAULT_REDACT, redactFields, withoutPaths } from '../../src/platform/redact.js';
import { createProxyTrust } from '../../src/server/auth/proxy-trust.js';

const request = (peer: string, headers: Record<string, string> = {}) => ({ headers, socket: { remoteAddress: peer } }) as unknown as IncomingMessage;

const trustProxy = (value: unknown) => authConfigFileSchema.safeParse({ authentication: {}, security: { trust_proxy: value } });

describe('security.trust_proxy', () => {
  it('takes false, true (one hop), a hop count, or trusted addresses and CIDRs, and refuses a bad CIDR', () => {
    expect(trustProxy(false).data?.security.trust_proxy).toBe(0);
    expect(trustProxy(true).data?.security.trust_proxy).toBe(1);
    expect(trustProxy(2).data?.security.trust_proxy).toBe(2);
    expect(trustProxy('3').data?.security.trust_proxy).toBe(3);
    expect(trustProxy('10.0.0.0/8, loopback').data?.security.trust_proxy).toEqual(['10.0.0.0/8', 'loopback']);
    expect(trustProxy(['192.168.0.1']).data?.security.trust_proxy).toEqual(['192.168.0.1']);
    expect(authConfigFileSchema.parse({ authentication: {} }).security.trust_proxy).toBe(0);
    const bad = trustProxy('10.0.0.0/99');
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error?.issues)).toContain('10.0.0.0/99');
  });

  it('reads MCP_TRUST_PROXY from the shipped auth-config.yaml, naming a bad entry', () => {
    const trust = (value: string) => loadConfig({ configDir: './config', explicit: true, env: { MCP_TRUST_PROXY: value } }).auth.security.trust_proxy;
    expect(trust('true')).toBe(1);
    expect(trust('2')).toBe(2);
    expect(trust('fe80::/10, 10.0.0.0/8')).toEqual(['fe80::/10', '10.0.0.0/8']);
    expect(() => trust('bogus')).toThrow(/security\.trust_proxy: invalid IP address: bogus/);
  });

  it('with no proxy trusted, takes the socket peer and ignores forwarded headers', () => {
    const proxies = createProxyTrust(0);
    const req = request('203.0.113.9', { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' });
    expect(proxies.clientAddress(req)).toBe('203.0.113.9');
    expect(proxies.forwardedProto(req)).toBeUndefined();
  });

  it('with one hop, takes the right-most X-Forwarded-For entry: what the one proxy appended, not what the client sent', () => {
    const proxies = createProxyTrust(1);
    expect(proxies.clientAddress(request('10.0.0.5', { 'x-forwarded-for': '198.51.100.1, 203.0.113.66' }))).toBe('203.0.113.66');
    expect(proxies.clientAddress(request('10.0.0.5', { 'x-forwarded-for': '198.51.100.1' }))).toBe('198.51.100.1');
    expect(proxies.clientAddress(request('10.0.0.5'))).toBe('10.0.0.5');
    expect(proxies.forwardedProto(request('10.0.0.5', { 'x-forwarded-proto': 'http, https' }))).toBe('https');
  });

  it('with trusted CIDRs, skips trusted proxies from the right and stops at the first untrusted address', () => {
    const proxies = createProxyTrust(['10.0.0.0/8', 'loopback']);
    expect(proxies.clientAddress(request('127.0.0.1', { 'x-forwarded-for': '1.2.3.4, 198.51.100.7, 10.1.1.1' }))).toBe('198.51.100.7');
    // A peer that is not a trusted proxy is the client, whatever it forwards.
    const direct = request('203.0.113.9', { 'x-forwarded-for': '10.1.1.1', 'x-forwarded-proto': 'https' });
    expect(proxies.clientAddress(direct)).toBe('203.0.113.9');
    expect(proxies.forwardedProto(direct)).toBeUndefined();
  });
});

describe('redaction', () => {
  function capture(redact?: readonly string[]) {
    const out: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk.toString());
        done();
      },
    });
    return { log: createLogger('info', sink, { redact }), text: () => out.join('') };
  }

  it('masks authorization, cookies and any *-key, *-token or *secret* header or field, X-Upstream-Key included', () => {
    const { log, text } = capture();
    log.info(
      {
        req: { headers: { authorization: 'Bearer abc', cookie: 'sid=s3', 'x-upstream-key': 'up-key-1', 'x-api-key': 'ml3_key', 'x-refresh-token': 'rt-1', host: 'example.com' } },
        settings: { client_secret: 'cs-1', nested: [{ signingSecret: 'ss-1', password: 'pw-1' }] },
      },
      'request',
    );
    const line = text();
    for (const secret of ['abc', 'sid=s3', 'up-key-1', 'ml3_key', 'rt-1', 'cs-1', 'ss-1', 'pw-1']) expect(line).not.toContain(secret);
    expect(line).toContain('example.com');
    expect(line).toContain('[redacted]');
  });

  it('follows logging.redact when it is configured, and the audit redaction follows the same list', () => {
    const { log, text } = capture(['x-tenant']);
    log.info({ headers: { 'x-tenant': 'acme', authorization: 'visible-now' } }, 'custom');
    expect(text()).not.toContain('acme');
    expect(text()).toContain('visible-now');
    expect(redactFields({ headers: { 'x-tenant': 'acme' } }, ['x-tenant'])).toEqual({ headers: { 'x-tenant': '[redacted]' } });
    const args = { name: 'release', headers: { 'X-Upstream-Key': 'k' }, idempotencyKey: 'run-1' };
    expect(redactFields(args)).toEqual({ name: 'release', headers: { 'X-Upstream-Key': '[redacted]' }, idempotencyKey: 'run-1' });
    expect(args.headers['X-Upstream-Key']).toBe('k'); // the caller's object is left alone
  });

  it('ships the default list as logging.redact', () => {
    const parsed = engineMapFileSchema.safeParse({});
    expect(parsed.success ? parsed.data.logging.redact : DEFAULT_REDACT).toEqual([...DEFAULT_REDACT]);
  });

  it('takes file system paths out of messages a client may see, but not URLs', () => {
    expect(withoutPaths("ENOENT: no such file or directory, open '/srv/mcp/data/pgdata/PG_VERSION'")).toBe("ENOENT: no such file or directory, open '<path>'");
    expect(withoutPaths('connect to postgres://db:5432/mcp failed')).toBe('connect to postgres://db:5432/mcp failed');
  });
});

describe('dag:admin', () => {
  it('is a scope keys and stdio may be given, though no operation requires it', () => {
    expect(KNOWN_SCOPES).toContain('dag:admin');
    expect(unknownScopesProblem(['dag:admin', 'dag:read'])).toBeUndefined();
  });
});
