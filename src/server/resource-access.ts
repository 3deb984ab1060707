/*
 * What every resource surface needs: template variables decoded the same way, and the
 * engines reached only by a principal holding the scope of the matching read tool (a
 * resource read is checked as the tool call would be).
 */
import { hasScope, type App } from '../app.js';
import type { Engines } from '../engines/engines.js';
import { EngineError } from '../errors.js';
import type { Principal } from '../operations/operation.js';

/** A URI template variable, percent-decoded; a value that does not decode is used as given. */
export function decodeVariable(value: string | string[] | undefined): string {
  const raw = Array.isArray(value) ? value.join('/') : (value ?? '');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The engines, or FORBIDDEN naming the scope that reading `what` needs. */
export async function enginesFor(app: App, principal: Principal, scope: string, what: string): Promise<Engines> {
  if (!hasScope(principal, scope)) {
    throw new EngineError('FORBIDDEN', `reading ${what} needs the scope "${scope}", which principal "${principal.id}" does not have`);
  }
  return (await app.services()).engines;
}
