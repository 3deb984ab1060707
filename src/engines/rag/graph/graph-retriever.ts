/*
 * rag/graph/graph-retriever
 * =========================
 * Local graph retrieval: the query's terms (the BM25 analyzer's, so stems match) link it to
 * the entities whose names they contain; two hops of relations around those seeds make a
 * subgraph; personalized PageRank from the seeds ranks its entities; chunks score by the
 * rank and specificity of the top entities they mention. Relation paths from a seed to
 * each top entity explain why it was reached.
 */
import type { UndirectedGraph } from 'graphology';
import { bidirectional } from 'graphology-shortest-path/unweighted.js';
import type { GraphEdge, GraphEntity, GraphStore } from '../../../platform/graph/graph-store.js';
import { entityGraph, entityOf, nodeOf } from './entity-graph.js';
import { personalizedPageRank } from './personalized-pagerank.js';

export interface GraphRetrieval {
  /** Chunk ids with scores, best first. */
  chunks: { id: number; score: number }[];
  entities: { name: string; score: number }[];
  paths: string[];
}

/**
 * A seed whose name has this many terms, all in the query, anchors it. One shared word
 * ("license", "file") links a query to hubs whose neighbourhood says little about it, and such
 * a graph list pulled hybrid below its fusion without the graph on the man-page set.
 */
const ANCHOR_MIN_TERMS = 2;

const MAX_SEEDS = 50;
const FIRST_HOP_EDGES = 1000;
const SECOND_HOP_SOURCES = 100;
const SECOND_HOP_EDGES = 2000;
const TOP_ENTITIES = 10;
const CHUNKS_PER_ENTITY = 50;
const MAX_PATHS = 5;

/** Inverse chunk frequency: an entity in every chunk tells little. */
const specificity = (entity: GraphEntity, totalChunks: number) => Math.log(1 + totalChunks / Math.max(1, entity.chunks));

/**
 * With `anchoredOnly` (hybrid, where the graph's list counts only for a query that names an
 * entity outright, see ANCHOR_MIN_TERMS) any other query is not expanded: the result lists
 * the entities it names, by weight, with no chunks and no paths. The expansion is most of a
 * hybrid query's work.
 */
export async function retrieveByGraph(
  store: GraphStore,
  collection: string,
  queryTerms: readonly string[],
  totalChunks: number,
  depth: number,
  options: { anchoredOnly?: boolean } = {},
): Promise<GraphRetrieval> {
  const seeds = await store.entitiesWithin(collection, [...new Set(queryTerms)], MAX_SEEDS);
  if (seeds.length === 0) return { chunks: [], entities: [], paths: [] };
  const anchored = seeds.some((s) => s.key.split(' ').length >= ANCHOR_MIN_TERMS && s.chunks <= Math.max(3, totalChunks * 0.005));
  // Longer names matched say more than one shared word.
  const seedWeights = new Map(seeds.map((s) => [s.key, specificity(s, totalChunks) * s.key.split(' ').length]));
  if (options.anchoredOnly && !anchored) {
    const named = seeds
      .map((s) => ({ name: s.name, score: seedWeights.get(s.key)! }))
      .sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1))
      .slice(0, TOP_ENTITIES);
    return { chunks: [], entities: relativeScores(named), paths: [] };
  }

  const firstHop = await store.edgesAround(collection, [...seedWeights.keys()], FIRST_HOP_EDGES);
  const neighbourWeight = new Map<string, number>();
  for (const edge of firstHop) {
    for (const end of [edge.source, edge.target]) if (!seedWeights.has(end)) neighbourWeight.set(end, (neighbourWeight.get(end) ?? 0) + edge.weight);
  }
  const hubs = [...neighbourWeight].sort((a, b) => b[1] - a[1]).slice(0, SECOND_HOP_SOURCES).map(([key]) => key);
  const secondHop = await store.edgesAround(collection, hubs, SECOND_HOP_EDGES);

  const graph = entityGraph([...firstHop, ...secondHop], seedWeights.keys());
  const labels = new Map<string, GraphEdge>();
  for (const edge of [...firstHop, ...secondHop]) {
    if (edge.source === edge.target) continue;
    // The heaviest relation between two entities names their edge in paths.
    const pair = [edge.source, edge.target].sort().join('\u0000');
    const known = labels.get(pair);
    if (!known || edge.weight > known.weight || (known.label === 'co-occurs' && edge.label !== 'co-occurs')) labels.set(pair, edge);
  }

  const rank = personalizedPageRank(graph, new Map([...seedWeights].map(([key, weight]) => [nodeOf(key), weight])));
  const candidates = [...rank]
    .map(([node, score]) => [entityOf(node), score] as const)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_ENTITIES * 3);
  const details = new Map((await store.entities(collection, candidates.map(([key]) => key))).map((e) => [e.key, e]));
  // Rank times specificity: PageRank alone favours hubs ("License", "Software").
  const top = candidates
    .filter(([key]) => details.has(key))
    .map(([key, score]) => ({ entity: details.get(key)!, score: score * specificity(details.get(key)!, totalChunks) }))
    .sort((a, b) => b.score - a.score || (a.entity.key < b.entity.key ? -1 : 1))
    .slice(0, TOP_ENTITIES);

  const chunkScores = new Map<number, number>();
  const topScore = new Map(top.map((t) => [t.entity.key, t.score]));
  for (const mention of await store.mentions(collection, [...topScore.keys()], CHUNKS_PER_ENTITY)) {
    const add = topScore.get(mention.entity)! * (1 + Math.log(mention.count));
    chunkScores.set(mention.chunkId, (chunkScores.get(mention.chunkId) ?? 0) + add);
  }
  const chunks = [...chunkScores]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || a.id - b.id)
    .slice(0, depth);

  const keyPaths = shortestPaths(graph, [...seedWeights.keys()], top.map((t) => t.entity.key));
  const names = new Map([...seeds.map((s) => [s.key, s.name] as const), ...[...details].map(([key, e]) => [key, e.name] as const)]);
  const unnamed = [...new Set(keyPaths.flat())].filter((key) => !names.has(key));
  for (const e of await store.entities(collection, unnamed)) names.set(e.key, e.name);
  return {
    chunks,
    entities: relativeScores(top.map((t) => ({ name: t.entity.name, score: t.score }))),
    paths: keyPaths.map((path) => describePath(path, labels, names)),
  };
}

/** Scores as fractions of the first (best) one's, to four places. */
function relativeScores(ranked: readonly { name: string; score: number }[]): { name: string; score: number }[] {
  const best = ranked[0]?.score || 1;
  return ranked.map((r) => ({ name: r.name, score: Number((r.score / best).toFixed(4)) }));
}

/** The shortest path from the nearest seed to each top entity that is not a seed. */
function shortestPaths(graph: UndirectedGraph, seeds: string[], top: string[]): string[][] {
  const paths: string[][] = [];
  for (const key of top) {
    if (paths.length >= MAX_PATHS) break;
    if (!graph.hasNode(nodeOf(key)) || seeds.includes(key)) continue;
    let best: string[] | null = null;
    for (const seed of seeds) {
      const path = bidirectional(graph, nodeOf(seed), nodeOf(key));
      if (path && (!best || path.length < best.length)) best = path;
    }
    if (best) paths.push(best.map(entityOf));
  }
  return paths;
}

/** "A –label→ B ←label– C", arrows in the direction the relation was written. */
function describePath(path: string[], labels: Map<string, GraphEdge>, names: Map<string, string>): string {
  let text = names.get(path[0]!) ?? path[0]!;
  for (let i = 1; i < path.length; i++) {
    const edge = labels.get([path[i - 1]!, path[i]!].sort().join('\u0000'))!;
    text += edge.source === path[i - 1] ? ` –${edge.label}→ ` : ` ←${edge.label}– `;
    text += names.get(path[i]!) ?? path[i]!;
  }
  return text;
}
