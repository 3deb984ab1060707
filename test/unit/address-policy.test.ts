/*
 * The address check behind http_request (platform/net/address-policy.ts): which resolved
 * addresses are refused unless DAG_engine.settings.httpAllowedNetworks covers them.
 */
import { describe, expect, it } from 'vitest';
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
