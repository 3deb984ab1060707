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
 * and the receivers' resync covers it. The channel itself is platform/redis-broadcast.ts.
 */
import type { Logger } from '../log.js';
import { createRedisBroadcast } from '../redis-broadcast.js';
import type { EventHub, EventRelay, ServerEvent } from './event-hub.js';

export interface RedisEventRelayOptions {
  /** Channel name prefix; replicas that share events use the same one. */
  keyPrefix?: string;
  log: Logger;
  /** Called after the subscription is back from a loss that began at `lostAt`. */
  onResync?: (lostAt: Date) => void;
}

interface Envelope {
  event: ServerEvent;
}

const KINDS = new Set<ServerEvent['kind']>(['tools_list_changed', 'prompts_list_changed', 'resources_list_changed', 'resource_updated']);

function isValid(envelope: Partial<Envelope>): envelope is Envelope {
  const event = envelope.event;
  if (!event || !KINDS.has(event.kind)) return false;
  return event.kind !== 'resource_updated' || typeof event.uri === 'string';
}

export async function attachRedisEventRelay(hub: EventHub, url: string, options: RedisEventRelayOptions): Promise<EventRelay> {
  const log = options.log;
  let lostAt: Date | undefined;
  let lastPublishWarning = 0;
  const channel = createRedisBroadcast<Partial<Envelope>>(url, `${options.keyPrefix ?? 'mcp-level3:'}mcp-events`, {
    onMessage(envelope) {
      if (isValid(envelope)) hub.deliver(envelope.event);
    },
    onLost(wasListening) {
      if (!wasListening) return;
      lostAt = new Date();
      log.warn('change-event channel lost; events of other replicas are missed until it is back');
    },
    onListening() {
      const since = lostAt;
      lostAt = undefined;
      if (since) {
        log.info({ lostMs: Date.now() - since.getTime() }, 'change-event channel back; announcing what changed meanwhile');
        options.onResync?.(since);
      }
    },
  });
  const relay: EventRelay = {
    kind: 'redis',
    get connected() {
      return channel.listening;
    },
    forward(event) {
      channel.publish({ event }).catch((error: unknown) => {
        const now = Date.now();
        if (now - lastPublishWarning > 10_000) {
          lastPublishWarning = now;
          log.warn({ err: (error as Error).message }, 'change event not sent to other replicas (Redis unavailable)');
        }
      });
    },
    async close() {
      channel.close();
    },
  };
  hub.attach(relay);
  // Redis down at start-up is an outage like any other: this replica serves, and catches up
  // once the subscriber is connected.
  try {
    await channel.start();
  } catch (error) {
    lostAt ??= new Date();
    log.warn({ err: (error as Error).message }, 'change-event channel not connected; events of other replicas are missed until it is');
  }
  return relay;
}
