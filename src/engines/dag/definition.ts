/*
 * dag/definition
 * ==============
 * The workflow definition format (docs/dag.md): a name, optional default params, nodes
 * with an action, an input, dependencies, a retry policy, a timeout and a `when`
 * condition, and an optional output. Accepted as a JSON object or as YAML text.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { RetryPolicy } from '../execution/backoff.js';

export const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
export const WORKFLOW_NAME = /^[a-z0-9][a-z0-9._/-]{0,127}$/;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const retrySchema = z.strictObject({
  maxAttempts: int(1, 20),
  initialDelayMs: int(0, 3_600_000).default(200),
  maxDelayMs: int(0, 3_600_000).default(10_000),
});

const nodeSchema = z.strictObject({
  id: z.string().regex(NODE_ID, { error: 'expected letters, digits, "_" or "-", starting with a letter or "_" (at most 64)' }),
  action: z.string().min(1).max(128),
  description: z.string().max(1000).optional(),
  input: z.unknown().optional(),
  dependsOn: z.array(z.string().max(64)).max(10_000).optional(),
  retry: retrySchema.optional(),
  timeoutMs: int(1, 86_400_000).optional(),
  when: z.string().min(1).max(4096).optional(),
});

export const definitionSchema = z.strictObject({
  name: z.string().regex(WORKFLOW_NAME, { error: 'expected lower-case letters, digits, ".", "_", "/" or "-" (at most 128), e.g. "release/publish"' }),
  version: int(1, 1_000_000).optional(),
  description: z.string().max(4000).optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  /** Most nodes of one run at once in one process (default execution.settings.runConcurrency). */
  concurrency: int(1, 10_000).optional(),
  nodes: z.array(nodeSchema).min(1, { error: 'a workflow needs at least one node' }),
  output: z.unknown().optional(),
});

export type WorkflowDefinition = z.output<typeof definitionSchema>;
export type NodeDefinition = WorkflowDefinition['nodes'][number];
export type NodeRetry = RetryPolicy;

/** A definition given as YAML text becomes an object; anything else is returned as is. */
export function parseDefinitionText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return parseYaml(value, { maxAliasCount: 100 });
  } catch (error) {
    throw new DefinitionSyntaxError(`definition: not valid YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
}

export class DefinitionSyntaxError extends Error {}
