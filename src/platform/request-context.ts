/*
 * Request ids
 * ===========
 * Every HTTP request gets an id: the caller's X-Request-Id when it is a safe token, a new
 * UUID otherwise. It is echoed in the response and carried through the async work the
 * request starts (AsyncLocalStorage), so every log line that work writes names it, down
 * to the engines, without passing it by hand.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export const REQUEST_ID_HEADER = 'x-request-id';

const storage = new AsyncLocalStorage<string>();
// Ids go into log lines and response headers: letters, digits and a few separators only,
// so a caller cannot forge log fields or split headers.
const SAFE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The caller's id when it is safe to log and echo; a new one otherwise. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && SAFE_ID.test(given) ? given : randomUUID();
}

export function runWithRequestId<T>(id: string, fn: () => T): T {
  return storage.run(id, fn);
}

/** The id of the request whose work is running, or undefined outside a request. */
export function currentRequestId(): string | undefined {
  return storage.getStore();
}
