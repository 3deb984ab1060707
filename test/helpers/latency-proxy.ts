/*
 * A TCP proxy that delays everything passing through it, both ways, by delayMs (keeping its
 * order), as a replica farther from its Redis than another sees the network. Replicas in one
 * test process reach a service through proxies of different delays, so a message one of them
 * sends can arrive after a message another sent later (a cache fill landing after an
 * invalidation), as between machines, instead of depending on which socket the event loop
 * happens to read first.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface LatencyProxy {
  /** The upstream's URL with host and port replaced by the proxy's. */
  url: string;
  close(): Promise<void>;
}

/** Writes each chunk delayMs after it was read (timers of equal delay fire in order). */
function delayedPipe(from: Socket, to: Socket, delayMs: number): void {
  from.on('data', (chunk: Buffer) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, delayMs);
  });
}

export async function startLatencyProxy(upstreamUrl: string, delayMs: number): Promise<LatencyProxy> {
  const upstream = new URL(upstreamUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const remote = connect(Number(upstream.port), upstream.hostname);
    sockets.add(client);
    sockets.add(remote);
    const close = () => {
      client.destroy();
      remote.destroy();
      sockets.delete(client);
      sockets.delete(remote);
    };
    for (const socket of [client, remote]) {
      socket.setNoDelay(true);
      socket.on('error', close);
      socket.on('close', close);
    }
    delayedPipe(client, remote, delayMs);
    delayedPipe(remote, client, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: url.href,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
