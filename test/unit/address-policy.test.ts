import { describe, expect, it } from 'vitest';
import { checkedLookup, createAddressPolicy, parseCidrs } from '../../src/platform/net/address-policy.js';

describe('outbound address policy', () => {
  const policy = createAddressPolicy();

  it('refuses loopback, private, link-local (cloud metadata), multicast and reserved addresses, IPv4 and IPv6', () => {
    const cases: Record<string, string> = {
      '127.0.0.1': 'loopback',
      '10.2.3.4': 'private',
      '172.20.0.1': 'private',
      '192.168.1.1': 'private',
      '169.254.169.254': 'link-local (cloud metadata)',
      '100.64.0.1': 'shared (carrier-grade NAT)',
      '0.0.0.0': 'unspecified',
      '224.0.0.1': 'multicast',
      '::1': 'loopback',
      'fd00:ec2::254': 'unique local (private)',
      'fe80::1': 'link-local',
      '::ffff:127.0.0.1': 'loopback',
      '::ffff:169.254.169.254': 'link-local (cloud metadata)',
    };
    for (const [address, reason] of Object.entries(cases)) expect([address, policy.denied(address)]).toEqual([address, reason]);
  });

  it('lets public addresses through, and private ranges an allow list names', () => {
    expect(policy.denied('93.184.215.14')).toBeUndefined();
    expect(policy.denied('2606:4700::1111')).toBeUndefined();
    const allowing = createAddressPolicy(parseCidrs('10.1.0.0/16, 127.0.0.1', 'TEST_CIDRS'));
    expect(allowing.denied('10.1.2.3')).toBeUndefined();
    expect(allowing.denied('127.0.0.1')).toBeUndefined();
    expect(allowing.denied('10.2.0.1')).toBe('private');
    expect(() => parseCidrs('10.0.0.0/33', 'TEST_CIDRS')).toThrow(/TEST_CIDRS: "10.0.0.0\/33" is not an address or CIDR range/);
  });

  it('refuses a name that resolves to a denied address, before connecting', async () => {
    const lookup = checkedLookup(policy);
    const error = await new Promise<NodeJS.ErrnoException | null>((done) => lookup('localhost', {}, (e) => done(e)));
    expect(error?.message).toMatch(/localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
  });
});
