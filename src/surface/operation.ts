/*
 * Operation declarations
 * ======================
 * One declaration per operation: name, title, description, zod input and output schemas,
 * MCP annotations, required scope and handler. The MCP tool is derived from it (and the
 * REST route, JSON-RPC method and OpenAPI entry of the HTTP API). Handlers receive input
 * already validated and call engines; they know nothing of the transport.
 */
import type { z } from 'zod';
import type { Logger } from '../platform/log.js';
import type { Metrics } from '../platform/metrics.js';
import type { EngineId } from '../engines/engine-names.js';
import type { Engines } from '../engines/engines.js';

export { ENGINE_IDS, type EngineId } from '../engines/engine-names.js';

export interface Principal {
  /** Stable id used in audit records and `createdBy` fields. */
  id: string;
  /** Who that is for a reader of the audit log: the API key's name or the token's subject. */
  name?: string;
  /** Granted scopes; `*` grants all. */
  scopes: readonly string[];
}

export function hasScope(principal: Principal, scope: string): boolean {
  return principal.scopes.includes('*') || principal.scopes.includes(scope);
}

export interface OperationContext {
  engines: Engines;
  principal: Principal;
  signal: AbortSignal;
  log: Logger;
  /** The server's metrics; each engine figure is defined in platform/metrics.ts. */
  metrics: Metrics;
  /** Reports progress to the caller when it asked for it (MCP progress notifications). */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** The caller's own language model (MCP sampling), present only when the client offers it. */
  sample?: SampleModel;
}

/** A prompt to one model answer, e.g. through MCP sampling/createMessage. */
export type SampleModel = (request: { system: string; prompt: string; maxTokens: number }, signal?: AbortSignal) => Promise<string>;

export interface OperationAnnotations {
  readOnlyHint: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface Operation<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  /** `<engine>_<verb>` in snake_case: the MCP tool name and JSON-RPC method. */
  name: string;
  engine: EngineId;
  title: string;
  /** What it does and when to use it, for an LLM choosing tools: short and exact. */
  description: string;
  input: I;
  output: O;
  annotations: OperationAnnotations;
  /** Scope a principal needs, e.g. `registry:write`. */
  scope: string;
  handler(input: z.output<I>, ctx: OperationContext): Promise<z.input<O>>;
  /**
   * The text block of an MCP tool result: the output in the compact form a model reads
   * (result-text.ts). Without it, one `key: value` line per field and one line per list item.
   */
  summarize?(output: z.output<O>): string;
  /** Resources the result points at (a run, an artifact's content), sent as resource_link blocks after the text. */
  links?(output: z.output<O>): { uri: string; name: string; mimeType?: string }[];
  /**
   * The MCP App (a `ui://` resource, resources/apps.ts) a host that supports MCP Apps shows
   * with the result; listed as `_meta.ui.resourceUri`. The result itself is unchanged.
   */
  ui?: string;
}

// The identity function keeps each declaration's input and output types tied to its handler.
export function defineOperation<I extends z.ZodType, O extends z.ZodType>(operation: Operation<I, O>): Operation<I, O> {
  return operation;
}

export type AnyOperation = Operation<z.ZodType, z.ZodType>;
