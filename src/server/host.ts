/*
 * What the server modules need of the application
 * ================================================
 * The MCP surface, the HTTP app and the API routes depend on this, not on the composition
 * root: the declarations they serve, the one invoke path, the change events, logging and
 * metrics, readiness, and the API keys.
 */
import type { LoadedConfig } from '../config/load-config.js';
import type { CallContext, Invocation } from '../invoke-pipeline.js';
import type { EventHub } from '../platform/events/event-hub.js';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import type { AnyOperation } from '../surface/operation.js';
import type { AnyPrompt } from '../surface/prompt.js';
import type { AnyResource } from '../surface/resource.js';
import type { z } from 'zod';
import type { ApiKeyStore } from './auth/api-key-store.js';

export interface Readiness {
  ready: boolean;
  checks: {
    database: { ok: boolean; backend: string; schemaVersion?: number; error?: string };
    cache: { ok: boolean; backend: string; error?: string };
    /** Change events (subscriptions): `redis` with replicas; not ok while other replicas' events are missed. */
    events: { ok: boolean; backend: string };
  };
}

export interface ServerHost {
  readonly config: LoadedConfig;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** MCP change events of every replica: what subscriptions hear. */
  readonly events: EventHub;
  /** The operations, resources and prompts this server serves (after --toolsets, --read-only). */
  readonly operations: readonly AnyOperation[];
  readonly resources: readonly AnyResource[];
  readonly prompts: readonly AnyPrompt[];
  invoke<O extends AnyOperation>(operation: O, args: unknown, call: CallContext): Promise<z.output<O['output']>>;
  run<P, T>(invocation: Invocation<P, T>, call: CallContext): Promise<T>;
  readiness(): Promise<Readiness>;
  apiKeys(): Promise<ApiKeyStore>;
}
