/*
 * Proxies
 * =======
 * Who the client is, behind proxies that append to X-Forwarded-For. `security.trust_proxy`
 * (config/schema.ts) is a hop count or a list of trusted proxy addresses and CIDRs; the
 * address chain is read from the right, the socket's peer first, and the client is the
 * first address that is not a trusted proxy (proxy-addr, the library express uses). A
 * client that sends its own X-Forwarded-For only adds entries to the left of what the
 * trusted proxies append, so it can neither choose its address nor take a victim's.
 * X-Forwarded-Proto is believed only when the socket's peer is a trusted proxy, and then
 * its last value (the one the nearest proxy set).
 */
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

export interface ProxyTrust {
  /** The client's address: the socket's peer unless trusted proxies forwarded the request. */
  clientAddress(req: IncomingMessage): string;
  /** The scheme the client used, from X-Forwarded-Proto when a trusted proxy sent it. */
  forwardedProto(req: IncomingMessage): string | undefined;
}

/** `trust`: a hop count (0: no proxy is trusted), or trusted addresses and CIDRs. */
export function createProxyTrust(trust: number | readonly string[]): ProxyTrust {
  const trusted: (address: string, index: number) => boolean =
    typeof trust === 'number' ? (_address, index) => index < trust : proxyAddr.compile([...trust]);
  const none = typeof trust === 'number' ? trust === 0 : trust.length === 0;
  const peer = (req: IncomingMessage) => req.socket.remoteAddress;
  return {
    clientAddress(req) {
      if (none) return peer(req) ?? 'unknown';
      // proxy-addr reads only req.headers and req.socket (node:http's IncomingMessage has both).
      return proxyAddr(req, trusted) || peer(req) || 'unknown';
    },
    forwardedProto(req) {
      const address = peer(req);
      if (none || !address || !trusted(address, 0)) return undefined;
      const header = req.headers['x-forwarded-proto'];
      const value = Array.isArray(header) ? header.join(',') : header;
      return value?.split(',').at(-1)?.trim().toLowerCase() || undefined;
    },
  };
}
