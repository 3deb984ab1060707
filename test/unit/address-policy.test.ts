/*
 * The address check behind http_request (platform/net/address-policy.ts): which resolved
 * addresses are refused unless DAG_engine.settings.httpAllowedNetworks covers them.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runBuiltin } from '../../src/engines/dag/builtins.js';
import { checkAddress, isCidr } from '../../src/platform/net/address-policy.js';

describe('address policy', () => {
  it.each([
    ['127.0.0.1', '127.0.0.0/8'],
    ['0.0.0.0', '0.0.0.0/8'],
    ['10.1.2.3', '10.0.0.0/8'],
    ['172.31.255.1', '172.16.0.0/12'],
    ['192.168.1.1', '192.168.0.0/16'],
    ['100.64.0.1', '100.64.0.0/10'],
    ['169.254.169.254', '169.254.0.0/16'],
    ['::1', '::1/128'],
    ['fe80::1', 'fe80::/10'],
    ['fd12:3456::1', 'fc00::/7'],
    ['::ffff:127.0.0.1', '127.0.0.0/8'],
    ['::ffff:a9fe:a9fe', '169.254.0.0/16'],
    ['64:ff9b::a00:1', '10.0.0.0/8'],
  ])('refuses %s (in %s)', (address, range) => {
    expect(checkAddress(address, [])).toMatchObject({ allowed: false, range });
  });

  it('allows public addresses', () => {
    for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111']) expect(checkAddress(address, [])).toEqual({ allowed: true });
  });

  it('allows a denied address that httpAllowedNetworks covers, IPv4-mapped forms included, and nothing more', () => {
    expect(checkAddress('10.20.1.5', ['10.20.0.0/16'])).toEqual({ allowed: true });
    expect(checkAddress('::ffff:10.20.1.5', ['10.20.0.0/16'])).toEqual({ allowed: true });
    expect(checkAddress('10.21.1.5', ['10.20.0.0/16'])).toMatchObject({ allowed: false });
    expect(checkAddress('169.254.169.254', ['10.20.0.0/16', 'fd00::/8'])).toMatchObject({ allowed: false });
  });

  it('knows a CIDR', () => {
    expect(isCidr('10.0.0.0/8')).toBe(true);
    expect(isCidr('fd00::/8')).toBe(true);
    expect(isCidr('10.0.0.0')).toBe(false);
    expect(isCidr('example.com/8')).toBe(false);
  });
});

describe('http_request by host name', () => {
  it('refuses an allowed name that resolves to loopback, and reaches it by the checked address once the network is allowed', async () => {
    const server = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ host: req.headers.host })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const signal = new AbortController().signal;
    const input = { url: `http://localhost:${port}/hook` };
    try {
      await expect(runBuiltin('http_request', input, signal, { httpAllowedHosts: ['localhost'] })).rejects.toThrow(
        /"localhost" resolves to (127\.0\.0\.1|::1), in (127\.0\.0\.0\/8|::1\/128) \(loopback\), which workflows may not reach; .*DAG_engine\.settings\.httpAllowedNetworks/,
      );
      const reached = await runBuiltin('http_request', input, signal, { httpAllowedHosts: ['localhost'], httpAllowedNetworks: ['127.0.0.0/8', '::1/128'] });
      expect(reached).toMatchObject({ status: 200, body: { host: `localhost:${port}` } });
    } finally {
      server.close();
    }
  });
});
