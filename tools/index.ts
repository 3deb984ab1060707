/*
 * The operation registry
 * ======================
 * Every operation, listed by hand and grouped by engine (toolset). Surfaces loop over
 * `selectOperations(...)`; nothing is discovered from the filesystem.
 */
import { ENGINE_IDS, type AnyOperation, type EngineId } from '../src/surface/operation.js';
import { DAG_OPERATIONS } from './dag.js';
import { EXECUTION_OPERATIONS } from './execution.js';
import { RAG_OPERATIONS } from './rag.js';
import { REGISTRY_OPERATIONS } from './registry.js';
import { VALIDATION_OPERATIONS } from './validation.js';
import { GOVERNANCE_OPERATIONS } from './governance.js';
import { TAXONOMY_OPERATIONS } from './taxonomy.js';
import { PROMOTION_OPERATIONS } from './promotion.js';

export const TOOLSETS: Record<EngineId, { description: string }> = {
  rag: { description: 'Retrieval: ingest documents, vector, full-text, graph and hybrid queries' },
  dag: { description: 'Workflows: define, validate and run DAGs over every engine' },
  execution: { description: 'The bounded executor under DAG nodes and long tools' },
  governance: { description: 'Policies in CEL and the hash-chained audit log' },
  taxonomy: { description: 'Ontology look-up, trees and classification' },
  validation: { description: 'JSON Schema registry and validation' },
  promotion: { description: 'Gated, approved promotion across environments' },
  registry: { description: 'Immutable, versioned, content-addressed artifacts' },
};

export const ALL_OPERATIONS: readonly AnyOperation[] = [
  ...RAG_OPERATIONS,
  ...REGISTRY_OPERATIONS,
  ...VALIDATION_OPERATIONS,
  ...DAG_OPERATIONS,
  ...EXECUTION_OPERATIONS,
  ...GOVERNANCE_OPERATIONS,
  ...TAXONOMY_OPERATIONS,
  ...PROMOTION_OPERATIONS,
] as unknown as AnyOperation[];

export function parseToolsets(value: string): EngineId[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !(ENGINE_IDS as readonly string[]).includes(id));
  if (unknown.length > 0) {
    throw new Error(`--toolsets: unknown toolset ${unknown.map((u) => JSON.stringify(u)).join(', ')}; choose from ${ENGINE_IDS.join(', ')}`);
  }
  return ids as EngineId[];
}

export function selectOperations(options: { toolsets?: readonly EngineId[]; readOnly?: boolean; enabled?: (engine: EngineId) => boolean }): AnyOperation[] {
  return ALL_OPERATIONS.filter(
    (op) =>
      (!options.toolsets || options.toolsets.includes(op.engine)) &&
      (!options.readOnly || op.annotations.readOnlyHint) &&
      (!options.enabled || options.enabled(op.engine)),
  );
}
