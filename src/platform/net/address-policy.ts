/*
 * platform/net/address-policy
 * ===========================
 * Which addresses outbound HTTP from workflows may reach. A host name allow-list is not
 * enough: an allowed name can resolve to 127.0.0.1, a private network or the cloud
 * metadata service (169.254.169.254). So names are resolved first, every address is
 * checked against the ranges below, and the connection goes to an address that was
 * checked (never to a second resolution, which DNS rebinding could change). A range is
 * reachable when DAG_engine.settings.httpAllowedNetworks lists a CIDR that covers the address.
 */
import type ipaddr from 'ipaddr.js';
import { lazyRequire } from '../lazy-require.js';

// Required on first use, synchronously (it is CommonJS): the configuration schema imports
// isCidr, and loading ipaddr.js up front cost every start (a stdio server's `initialize`
// included) even when no CIDR is configured.
const lib = lazyRequire<typeof ipaddr>('ipaddr.js');

/** Ranges refused unless allowed: loopback, private, shared, link-local and special-purpose. */
const DENIED_RANGES: readonly { cidr: string; what: string }[] = [
  { cidr: '0.0.0.0/8', what: '"this network"' },
  { cidr: '10.0.0.0/8', what: 'private (RFC 1918)' },
  { cidr: '100.64.0.0/10', what: 'carrier-grade NAT (RFC 6598)' },
  { cidr: '127.0.0.0/8', what: 'loopback' },
  { cidr: '169.254.0.0/16', what: 'link-local; cloud metadata services answer there' },
  { cidr: '172.16.0.0/12', what: 'private (RFC 1918)' },
  { cidr: '192.0.0.0/24', what: 'IETF protocol assignments' },
  { cidr: '192.168.0.0/16', what: 'private (RFC 1918)' },
  { cidr: '198.18.0.0/15', what: 'benchmarking' },
  { cidr: '224.0.0.0/4', what: 'multicast' },
  { cidr: '240.0.0.0/4', what: 'reserved' },
  { cidr: '::/128', what: 'unspecified' },
  { cidr: '::1/128', what: 'loopback' },
  { cidr: '::/96', what: 'IPv4-compatible (deprecated)' },
  { cidr: '64:ff9b:1::/48', what: 'local-use IPv4/IPv6 translation' },
  { cidr: '100::/64', what: 'discard-only' },
  { cidr: 'fc00::/7', what: 'unique-local' },
  { cidr: 'fe80::/10', what: 'link-local' },
  { cidr: 'ff00::/8', what: 'multicast' },
];

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

let deniedRanges: Array<(typeof DENIED_RANGES)[number] & { parsed: Range }> | undefined;
const denied = () => (deniedRanges ??= DENIED_RANGES.map((range) => ({ ...range, parsed: lib().parseCIDR(range.cidr) as Range })));

export function isCidr(value: string): boolean {
  try {
    lib().parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

/** The address as it will be reached: IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::/96) addresses as IPv4. */
function effective(address: string): Address {
  const parsed = lib().parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
    if (v6.match(lib().parseCIDR('64:ff9b::/96') as Range)) {
      const bytes = v6.toByteArray().slice(12);
      return lib().fromByteArray(bytes);
    }
  }
  return parsed;
}

function within(address: Address, range: Range): boolean {
  return address.kind() === range[0].kind() && address.match(range);
}

export type AddressVerdict = { allowed: true } | { allowed: false; range: string; what: string };

/** Whether an address may be reached: not in a denied range, or covered by an allowed network. */
export function checkAddress(address: string, allowedNetworks: readonly string[]): AddressVerdict {
  const target = effective(address);
  const hit = denied().find((range) => within(target, range.parsed));
  if (!hit) return { allowed: true };
  const original = lib().parse(address);
  for (const network of allowedNetworks) {
    const range = lib().parseCIDR(network) as Range;
    if (within(target, range) || within(original, range)) return { allowed: true };
  }
  return { allowed: false, range: hit.cidr, what: hit.what };
}
