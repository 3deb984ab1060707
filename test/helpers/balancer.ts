/*
 * A round-robin TCP balancer in front of replicas, as a Kubernetes Service or a cloud load
 * balancer spreads connections (bench/load.mjs has the same one without the extras). Two
 * things a test of faults needs on top:
 *   - a connection whose upstream refuses it is tried on the next replica (no byte of the
 *     request has been sent yet, so this is safe, as proxies do for connect errors);
 *   - which replica each client connection went to, by the client's local port, so a test
 *     can tell on which replica a failed request was.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface Balancer {
  port: number;
  /** The index of the upstream a client connection (by its local port) was sent to. */
  upstreamOf(clientPort: number): number | undefined;
  close(): Promise<void>;
}

export async function startBalancer(ports: number[]): Promise<Balancer> {
  let turn = 0;
  const assigned = new Map<number, number>();
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    sockets.add(client);
    client.pause();
    const clientPort = client.remotePort ?? 0;
    const tryUpstream = (attempt: number): void => {
      if (attempt >= ports.length || client.destroyed) {
        client.destroy();
        return;
      }
      const index = turn++ % ports.length;
      const upstream = connect(ports[index]!, '127.0.0.1');
      sockets.add(upstream);
      upstream.once('connect', () => {
        assigned.set(clientPort, index);
        upstream.removeAllListeners('error');
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        upstream.on('error', close);
        client.on('error', close);
        upstream.on('close', close);
        client.on('close', close);
        client.pipe(upstream).pipe(client);
        client.resume();
      });
      upstream.once('error', () => {
        upstream.destroy();
        tryUpstream(attempt + 1);
      });
    };
    tryUpstream(0);
  });
  server.on('connection', (socket) => socket.once('close', () => sockets.delete(socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    upstreamOf: (clientPort) => assigned.get(clientPort),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
