/*
 * rag/graph/entity-graph
 * ======================
 * The weighted, undirected graphology graph of a set of relations, which local retrieval and
 * communities both work on. graphology keeps a node's neighbours in a plain object, so an
 * entity keyed "constructor" (the analyzer's key of "Constructor", common in API manuals)
 * finds Object.prototype.constructor there: every edge to it then fails ("already exists",
 * or an updater called without attributes). Node keys therefore carry a prefix that no
 * prototype property has; `nodeOf` and `entityOf` convert.
 */
import { UndirectedGraph } from 'graphology';
import type { GraphEdge } from '../../../platform/graph/graph-store.js';

export const nodeOf = (entityKey: string): string => `#${entityKey}`;
export const entityOf = (node: string): string => node.slice(1);

/** Parallel relations between two entities add up their weights; self-relations are dropped. */
export function entityGraph(edges: Iterable<Pick<GraphEdge, 'source' | 'target' | 'weight'>>, entities: Iterable<string> = []): UndirectedGraph {
  const graph = new UndirectedGraph();
  for (const key of entities) graph.mergeNode(nodeOf(key));
  for (const edge of edges) {
    if (edge.source === edge.target) continue;
    graph.updateUndirectedEdge(nodeOf(edge.source), nodeOf(edge.target), (attributes: { weight?: number }) => ({ weight: (attributes.weight ?? 0) + edge.weight }));
  }
  return graph;
}
