/*
 * Scopes
 * ======
 * The scopes a principal can be granted are exactly those the operations declare
 * (`<engine>:read|write`, `dag:run`, `promotion:request|approve`, `governance:admin`, ...),
 * the administrative `dag:admin` (sees every principal's runs), plus `*`. The list is derived from the declarations, never written out by hand, so a new
 * operation's scope is grantable the day it lands and a typo in a key's scopes (which
 * would silently grant nothing) is refused when the key is made.
 */
import { DAG_ADMIN_SCOPE } from './dag.js';
import { ALL_OPERATIONS } from './index.js';

export const ALL_SCOPES = '*';

/** Scopes no operation requires but some widen what an operation shows (another principal's runs). */
export const ADMIN_SCOPES: readonly string[] = [DAG_ADMIN_SCOPE];

/** Every scope some operation needs, and the administrative ones, sorted. */
export const KNOWN_SCOPES: readonly string[] = [...new Set([...ALL_OPERATIONS.map((op) => op.scope), ...ADMIN_SCOPES])].sort();

/** Why these scopes cannot be granted, naming the valid ones; undefined when all are known. */
export function unknownScopesProblem(scopes: readonly string[]): string | undefined {
  const unknown = scopes.filter((scope) => scope !== ALL_SCOPES && !KNOWN_SCOPES.includes(scope));
  if (unknown.length === 0) return undefined;
  const named = unknown.map((scope) => JSON.stringify(scope)).join(', ');
  return `${named} ${unknown.length === 1 ? 'is not a scope' : 'are not scopes'}; valid scopes are ${KNOWN_SCOPES.join(', ')}, or "*" for all`;
}
