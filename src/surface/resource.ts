/*
 * Resource declarations
 * =====================
 * One declaration per resource template, shaped like defineOperation: name, engine, URI
 * template, scope, the operation a read is governed as, completions, and the read itself.
 * src/server/mcp-surface.ts registers them all with the SDK, and every read, list,
 * completion and subscription runs through the invoke path.
 */
import type { EngineId } from '../engines/engine-names.js';
import type { Completer, GovernedAs, SurfaceContext } from './access.js';

export interface ListedResource {
  uri: string;
  name: string;
  mimeType?: string;
  size?: number;
}

export interface ResourceBody {
  mimeType: string;
  /** Text content; `blob` (base64) for binary content. */
  text?: string;
  blob?: string;
}

export interface ResourceDeclaration<V extends string = string> {
  /** Stable name of the template, e.g. `registry-artifact`. */
  name: string;
  engine: EngineId;
  /** RFC 6570 level-1 template; each variable is one URL-encoded path segment. */
  uriTemplate: string;
  title: string;
  description: string;
  /** Scope a principal needs to read, list, complete or subscribe. */
  scope: string;
  governedAs: GovernedAs<Record<V, string>>;
  /** Whether `subscriptions/listen` and `resources/subscribe` may follow it. */
  subscribable?: boolean;
  /** Concrete resources for resources/list; absent when the template is not listed. */
  list?(ctx: SurfaceContext): Promise<ListedResource[]>;
  complete?: Partial<Record<V, Completer<Record<V, string>>>>;
  read(values: Record<V, string>, ctx: SurfaceContext): Promise<ResourceBody>;
}

export type AnyResource = ResourceDeclaration<string>;

export function defineResource<V extends string>(resource: ResourceDeclaration<V>): ResourceDeclaration<V> {
  return resource;
}

/** The variable names of a template, in order. */
export function templateVariables(template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!);
}

/** A URI template variable, percent-decoded; a value that does not decode is used as given. */
export function decodeVariable(value: string | string[] | undefined): string {
  const raw = Array.isArray(value) ? value.join('/') : (value ?? '');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}
