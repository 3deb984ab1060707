/*
 * Subscription limits
 * ===================
 * A `subscriptions/listen` stream holds a connection and a listener on every change event
 * for as long as the client keeps it open. Each principal may hold at most
 * `security.subscriptions.per_principal` of them on one replica, so one key cannot take the
 * `security.subscriptions.total` slots every principal shares (the SDK's handler enforces
 * that one).
 */

/** Resources one stream may name: each is looked up (scope and owner) when the stream opens. */
export const MAX_LISTEN_RESOURCES = 256;

export interface SubscriptionSlots {
  /** A slot for the principal, with its release function; undefined when it holds its share. */
  take(principalId: string): (() => void) | undefined;
  /** Open streams of the principal (for tests and metrics). */
  held(principalId: string): number;
}

export function createSubscriptionSlots(perPrincipal: number): SubscriptionSlots {
  const open = new Map<string, number>();
  return {
    take(principalId) {
      const count = open.get(principalId) ?? 0;
      if (count >= perPrincipal) return undefined;
      open.set(principalId, count + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (open.get(principalId) ?? 1) - 1;
        if (left > 0) open.set(principalId, left);
        else open.delete(principalId);
      };
    },
    held: (principalId) => open.get(principalId) ?? 0,
  };
}
