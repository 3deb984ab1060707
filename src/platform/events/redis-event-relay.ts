/*
 * Change events across replicas (Redis pub/sub)
 * =============================================
 * Carries an EventHub's publishes to the hubs of the other replicas on one Redis channel,
 * and delivers theirs to this one. Each message names its origin, so a replica ignores its
 * own (its listeners heard them when they were published). Pub/sub is at most once: while
 * the subscriber connection is down, events of other replicas are lost. So when it is back
 * (ioredis reconnects and re-subscribes by itself), `onResync` is called with the time the
 * connection was lost, for the caller to announce again what may have changed meanwhile.
 * The publisher fails fast (no offline queue): a publish while Redis is down is dropped,
 * and the receivers' resync covers it. Connection habits are those of tiered-cache.ts.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { EventHub, EventRelay, ServerEvent } from './event-hub.js';

export interface RedisEventRelayOptions {
  /** Channel name prefix; replicas that share events use the same one. */
  keyPrefix?: string;
  log: Logger;
  /** Called after the subscription is back from a loss that began at `lostAt`. */
  onResync?: (lostAt: Date) => void;
}

interface Envelope {
  origin: string;
  event: ServerEvent;
}

const KINDS = new Set<ServerEvent['kind']>(['tools_list_changed', 'prompts_list_changed', 'resources_list_changed', 'resource_updated']);

function parseEnvelope(message: string): Envelope | undefined {
  try {
    const parsed = JSON.parse(message) as Partial<Envelope>;
    const event = parsed.event;
    if (typeof parsed.origin !== 'string' || !event || !KINDS.has(event.kind)) return undefined;
    if (event.kind === 'resource_updated' && typeof event.uri !== 'string') return undefined;
    return parsed as Envelope;
  } catch {
    return undefined;
  }
}

export async function attachRedisEventRelay(hub: EventHub, url: string, options: RedisEventRelayOptions): Promise<EventRelay> {
  const channel = `${options.keyPrefix ?? 'mcp-level3:'}mcp-events`;
  const origin = randomUUID();
  const log = options.log;
  let listening = false;
  let lostAt: Date | undefined;
  let lastPublishWarning = 0;

  const publisher = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000 });
  const subscriber = new Redis(url, { lazyConnect: true, connectTimeout: 5000, retryStrategy: (attempt) => Math.min(attempt * 200, 2000) });
  publisher.on('error', () => undefined); // reported once per outage, below
  subscriber.on('error', () => undefined);
  subscriber.on('close', () => {
    if (!listening) return;
    listening = false;
    lostAt = new Date();
    log.warn('change-event channel lost; events of other replicas are missed until it is back');
  });
  subscriber.on('message', (_channel: string, message: string) => {
    const envelope = parseEnvelope(message);
    if (envelope && envelope.origin !== origin) hub.deliver(envelope.event);
  });
  subscriber.on('ready', () => {
    if (listening) return;
    subscriber.subscribe(channel).then(
      () => {
        if (listening) return;
        listening = true;
        const since = lostAt;
        lostAt = undefined;
        if (since) {
          log.info({ lostMs: Date.now() - since.getTime() }, 'change-event channel back; announcing what changed meanwhile');
          options.onResync?.(since);
        }
      },
      () => undefined,
    );
  });
  const relay: EventRelay = {
    kind: 'redis',
    get connected() {
      return listening;
    },
    forward(event) {
      publisher.publish(channel, JSON.stringify({ origin, event } satisfies Envelope)).catch((error: unknown) => {
        const now = Date.now();
        if (now - lastPublishWarning > 10_000) {
          lastPublishWarning = now;
          log.warn({ err: (error as Error).message }, 'change event not sent to other replicas (Redis unavailable)');
        }
      });
    },
    async close() {
      listening = false;
      subscriber.removeAllListeners('close');
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
  hub.attach(relay);
  // Redis down at start-up is an outage like any other: this replica serves, and catches up
  // once the subscriber is connected.
  try {
    await Promise.all([publisher.connect(), subscriber.connect()]);
    await subscriber.subscribe(channel);
    listening = true;
  } catch (error) {
    lostAt ??= new Date();
    log.warn({ err: (error as Error).message }, 'change-event channel not connected; events of other replicas are missed until it is');
  }
  return relay;
}
