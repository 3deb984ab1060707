/*
 * platform/net/address-policy
 * ===========================
 * Which addresses outbound HTTP may connect to. A host name is resolved first and every
 * address it resolves to is checked against the denied ranges (loopback, private, link-local,
 * cloud metadata, multicast, reserved), unless a CIDR of the allow list covers it; the
 * connection is then made to the address that was checked (`checkedLookup` is handed to
 * node:http as its `lookup`), so a second DNS answer cannot swap in another address.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

const DENIED_V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (carrier-grade NAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const DENIED_V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'unique local (private)'],
  ['fe80::', 10, 'link-local'],
  ['ff00::', 8, 'multicast'],
  ['64:ff9b::', 96, 'NAT64'],
  ['2001:db8::', 32, 'documentation'],
];

export interface AddressPolicy {
  /** Why the address may not be reached, or undefined when it may. */
  denied(address: string): string | undefined;
}

/** Parses "10.1.0.0/16,fd00::/8" (a bare address means that one address). */
export function parseCidrs(text: string | undefined, setting: string): BlockList {
  const list = new BlockList();
  for (const item of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [address, bits] = item.split('/');
    const family = isIP(address ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw new Error(`${setting}: "${item}" is not an address or CIDR range; write e.g. 10.0.0.0/8 or fd00::/8`);
    }
    list.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

/** The denied ranges, minus what `allowed` covers. */
export function createAddressPolicy(allowed: BlockList = new BlockList()): AddressPolicy {
  return {
    denied(address) {
      const family = isIP(address);
      if (family === 0) return 'not an IP address';
      if (family === 6) {
        // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible forms are checked as IPv4.
        const mapped = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
        if (mapped) return this.denied(mapped);
        if (allowed.check(address, 'ipv6')) return undefined;
        return DENIED_V6.find(([net, bits]) => inSubnet(address, net, bits, 'ipv6'))?.[2];
      }
      if (allowed.check(address, 'ipv4')) return undefined;
      return DENIED_V4.find(([net, bits]) => inSubnet(address, net, bits, 'ipv4'))?.[2];
    },
  };
}

const single = new Map<string, BlockList>();
function inSubnet(address: string, net: string, bits: number, type: 'ipv4' | 'ipv6'): boolean {
  const key = `${net}/${bits}`;
  let list = single.get(key);
  if (!list) {
    list = new BlockList();
    list.addSubnet(net, bits, type);
    single.set(key, list);
  }
  return list.check(address, type);
}

export class DeniedAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly reason: string,
  ) {
    super(`${host} resolves to ${address}, a ${reason} address, which outbound requests may not reach`);
    this.name = 'DeniedAddressError';
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for node:http(s) request options: resolves the name, refuses it when any of its
 * addresses is denied, and connects to the first address it checked.
 */
export function checkedLookup(policy: AddressPolicy) {
  return (hostname: string, options: { all?: boolean } | number | undefined, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true }, (error, addresses) => {
      if (error) return callback(error, '');
      for (const { address } of addresses) {
        const reason = policy.denied(address);
        if (reason) return callback(Object.assign(new DeniedAddressError(hostname, address, reason), { code: 'EADDRDENIED' }), '');
      }
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      if (typeof options === 'object' && options?.all) return callback(null, [first]);
      callback(null, first.address, first.family);
    });
  };
}
