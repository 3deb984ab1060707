/*
 * A Redis pub/sub channel between replicas
 * ========================================
 * What the cache's invalidations (cache/tiered-cache.ts) and the change events
 * (events/redis-event-relay.ts) both need: one publisher that fails fast (no offline queue:
 * a message sent while Redis is down is dropped, and the receivers learn of the outage from
 * their own connection), one subscriber that ioredis reconnects and re-subscribes, messages
 * tagged with this replica's origin so it skips its own, and callbacks when listening is lost
 * and when it is confirmed again. Pub/sub is at most once; callers decide what a lost
 * connection means for them.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export interface BroadcastHandlers<T extends object> {
  /** A message another replica published. */
  onMessage(message: T): void;
  /** The subscriber connection closed; `wasListening` is false for a retry that failed again. */
  onLost?(wasListening: boolean): void;
  /** The subscription is confirmed again after a reconnect (not called by `start`). */
  onListening?(): void;
}

export interface RedisBroadcast<T extends object> {
  /** Whether messages of other replicas are reaching this one now. */
  readonly listening: boolean;
  /** Connects and subscribes; rejects when Redis cannot be reached (ioredis keeps retrying). */
  start(): Promise<void>;
  /** Sends to the other replicas; rejects when Redis is unavailable. */
  publish(message: T): Promise<void>;
  close(): void;
}

export function createRedisBroadcast<T extends object>(url: string, channel: string, handlers: BroadcastHandlers<T>): RedisBroadcast<T> {
  const origin = randomUUID();
  let listening = false;
  const publisher = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  const subscriber = new Redis(url, { lazyConnect: true, connectTimeout: 5000, retryStrategy: (attempt) => Math.min(attempt * 200, 2000) });
  // Failures surface through `publish` and the lost/listening callbacks.
  publisher.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  subscriber.on('close', () => {
    const was = listening;
    listening = false;
    handlers.onLost?.(was);
  });
  subscriber.on('message', (_channel: string, raw: string) => {
    let parsed: T & { origin?: unknown };
    try {
      parsed = JSON.parse(raw) as T & { origin?: unknown };
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || parsed.origin === origin) return;
    handlers.onMessage(parsed);
  });
  // ioredis re-subscribes after a reconnect; listening is trusted again once that is confirmed.
  subscriber.on('ready', () => {
    if (listening) return;
    subscriber.subscribe(channel).then(
      () => {
        if (listening) return;
        listening = true;
        handlers.onListening?.();
      },
      () => undefined,
    );
  });
  return {
    get listening() {
      return listening;
    },
    async start() {
      await Promise.all([publisher.connect(), subscriber.connect()]);
      await subscriber.subscribe(channel);
      listening = true;
    },
    async publish(message) {
      await publisher.publish(channel, JSON.stringify({ ...message, origin }));
    },
    close() {
      listening = false;
      subscriber.removeAllListeners('close');
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}
