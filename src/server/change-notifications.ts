/*
 * Change notifications on a lasting connection
 * ============================================
 * Over HTTP, `subscriptions/listen` streams are served by createMcpHandler straight from
 * host.events (http-app.ts passes it as the bus); HTTP requests are otherwise stateless and
 * get nothing later. A stdio connection is one McpServer for its lifetime, and hears
 * host.events here, whichever replica the change happened on:
 *   - 2026-07-28: every change goes out as its notification, and the SDK's stdio listen
 *     router passes on only what an open `subscriptions/listen` asked for;
 *   - 2025: `resources/subscribe` names the URIs (runs and workflows); their updates, and
 *     resource list changes, are sent unsolicited, as 2025 clients expect.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { EventHub, ServerEvent } from '../platform/events/event-hub.js';

/** `assertSubscribable` is absent when the connection may not subscribe (no dag toolset or scope). */
export function deliverChanges(events: EventHub, server: McpServer, era: 'legacy' | 'modern', assertSubscribable?: (uri: string) => Promise<void>): void {
  const subscribed = new Set<string>();
  const send = (event: ServerEvent): Promise<void> | undefined => {
    if (event.kind === 'resource_updated') {
      if (era === 'legacy' && !subscribed.has(event.uri)) return undefined;
      return server.server.sendResourceUpdated({ uri: event.uri });
    }
    if (event.kind === 'resources_list_changed') return server.server.sendResourceListChanged();
    return undefined; // tools and prompts never change while the server runs
  };
  // Before the client has finished connecting (or after it left) there is no one to tell.
  const unsubscribe = events.subscribe((event) => void send(event)?.catch(() => undefined));

  if (era === 'legacy' && assertSubscribable) {
    server.server.setRequestHandler('resources/subscribe', async (request) => {
      await assertSubscribable(request.params.uri);
      subscribed.add(request.params.uri);
      return {};
    });
    server.server.setRequestHandler('resources/unsubscribe', async (request) => {
      subscribed.delete(request.params.uri);
      return {};
    });
  }
  const previous = server.server.onclose;
  server.server.onclose = () => {
    previous?.();
    unsubscribe();
    subscribed.clear();
  };
}
