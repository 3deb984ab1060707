/*
 * The resource registry
 * =====================
 * Every resource template, listed by hand and grouped by engine, like tools/index.ts.
 */
import type { EngineId } from '../src/surface/operation.js';
import type { AnyResource } from '../src/surface/resource.js';
import { DAG_RESOURCES } from './dag.js';
import { PROMOTION_RESOURCES } from './promotion.js';
import { RAG_RESOURCES } from './rag.js';
import { REGISTRY_RESOURCES } from './registry.js';
import { TAXONOMY_RESOURCES } from './taxonomy.js';

export const ALL_RESOURCES: readonly AnyResource[] = [...REGISTRY_RESOURCES, ...RAG_RESOURCES, ...DAG_RESOURCES, ...TAXONOMY_RESOURCES, ...PROMOTION_RESOURCES] as unknown as AnyResource[];

/** The resources of the engines whose tools are served (`--toolsets`, disabled engines). */
export function selectResources(engines: ReadonlySet<EngineId>): AnyResource[] {
  return ALL_RESOURCES.filter((resource) => engines.has(resource.engine));
}
