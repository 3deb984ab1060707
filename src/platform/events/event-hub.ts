/*
 * Change events (one process)
 * ===========================
 * The ServerEventBus every MCP surface of this process listens on: `subscriptions/listen`
 * streams (through createMcpHandler) and stdio connections. Publishing delivers to this
 * process's listeners at once, synchronously, whatever happens to Redis; a relay attached
 * to the hub (redis-event-relay.ts, with several replicas) carries each publish to the
 * other replicas and hands theirs back through `deliver`, which reaches the listeners here
 * without being sent out again.
 */
import { InMemoryServerEventBus, type ServerEvent, type ServerEventBus } from '@modelcontextprotocol/server';

export type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';

/** Where a hub's publishes go besides its own listeners. */
export interface EventRelay {
  readonly kind: string;
  /** Whether events of other replicas are reaching this one now. */
  readonly connected: boolean;
  forward(event: ServerEvent): void;
  close(): Promise<void>;
}

export class EventHub implements ServerEventBus {
  private readonly listeners: InMemoryServerEventBus;
  private relay?: EventRelay;

  constructor(onListenerError?: (error: Error) => void) {
    this.listeners = new InMemoryServerEventBus(onListenerError);
  }

  /** `memory` alone; the relay's kind (`redis`) once one is attached. */
  get kind(): string {
    return this.relay?.kind ?? 'memory';
  }

  /** False while an attached relay has lost its connection (other replicas' events are missed). */
  get connected(): boolean {
    return this.relay?.connected ?? true;
  }

  publish(event: ServerEvent): void {
    this.listeners.publish(event);
    this.relay?.forward(event);
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    return this.listeners.subscribe(listener);
  }

  /** An event from another replica (or a catch-up): to this process's listeners only. */
  deliver(event: ServerEvent): void {
    this.listeners.publish(event);
  }

  attach(relay: EventRelay): void {
    this.relay = relay;
  }

  async detach(): Promise<void> {
    const relay = this.relay;
    this.relay = undefined;
    await relay?.close();
  }
}
