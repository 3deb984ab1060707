/*
 * rag/graph/communities
 * =====================
 * The global view of a collection: Louvain communities (graphology-communities-louvain,
 * seeded so the same graph always splits the same way) over its weighted relations, each
 * summarized extractively by the sentences of its chunks that mention most of its central
 * entities (weighted degree inside the community). No model is needed, so it works offline.
 */
import louvainModule from 'graphology-communities-louvain';
import type { GraphStore } from '../../../platform/graph/graph-store.js';
import { terms } from '../../../platform/text/tokenize.js';
import { entityGraph, entityOf } from './entity-graph.js';

export interface Community {
  id: number;
  /** Entities in the community. */
  size: number;
  /** Its most central entities, most central first. */
  entities: string[];
  /** Its most representative sentences, quoted from the chunks. */
  summary: string;
  sources: { documentId: string; chunkId: number }[];
}

// A CommonJS module whose types declare a default export: at run time the module is the function.
const louvain = louvainModule as unknown as typeof louvainModule.default;

const MAX_EDGES = 20_000;
const MAX_COMMUNITIES = 20;
const MIN_SIZE = 3;
const CENTRAL_ENTITIES = 8;
const CHUNKS_PER_ENTITY = 3;
const SUMMARY_SENTENCES = 3;
const MAX_SENTENCE_LENGTH = 400;
const SENTENCE = /[^.!?\n]+[.!?]?/g;

/** mulberry32: a tiny seeded generator, so Louvain's random order is the same every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function detectCommunities(
  store: GraphStore,
  collection: string,
  loadChunks: (ids: number[]) => Promise<{ id: number; documentId: string; text: string }[]>,
): Promise<Community[]> {
  const graph = entityGraph(await store.edges(collection, MAX_EDGES));
  if (graph.order === 0) return [];
  const membership = louvain(graph, { getEdgeWeight: 'weight', rng: seeded(42) });

  const members = new Map<number, string[]>();
  for (const [node, community] of Object.entries(membership) as [string, number][]) members.set(community, [...(members.get(community) ?? []), node]);
  const groups = [...members.values()]
    .filter((nodes) => nodes.length >= MIN_SIZE)
    .sort((a, b) => b.length - a.length || (a[0]! < b[0]! ? -1 : 1))
    .slice(0, MAX_COMMUNITIES)
    .map((nodes) => {
      const inside = new Set(nodes);
      const degree = (node: string) => {
        let total = 0;
        graph.forEachEdge(node, (_edge: string, attributes: { weight?: number }, source: string, target: string) => {
          if (inside.has(source === node ? target : source)) total += attributes.weight ?? 0;
        });
        return total;
      };
      const central = nodes
        .map((node) => ({ node, degree: degree(node) }))
        .sort((a, b) => b.degree - a.degree || (a.node < b.node ? -1 : 1))
        .slice(0, CENTRAL_ENTITIES)
        .map(({ node, degree }) => ({ node: entityOf(node), degree }));
      return { size: nodes.length, central };
    });
  if (groups.length === 0) return [];

  const keys = groups.flatMap((g) => g.central.map((c) => c.node));
  const names = new Map((await store.entities(collection, keys)).map((e) => [e.key, e.name]));
  const mentions = await store.mentions(collection, keys, CHUNKS_PER_ENTITY);
  const chunkIds = [...new Set(mentions.map((m) => m.chunkId))];
  const chunks = new Map((await loadChunks(chunkIds)).map((c) => [c.id, c]));
  const chunksOf = new Map<string, number[]>();
  for (const m of mentions) chunksOf.set(m.entity, [...(chunksOf.get(m.entity) ?? []), m.chunkId]);

  return groups.map((group, index) => {
    const top = group.central[0]!.degree || 1;
    const weighted = group.central.map((c) => ({ terms: c.node.split(' '), weight: c.degree / top }));
    const candidates: { text: string; score: number; chunkId: number; documentId: string }[] = [];
    const used = new Set<number>();
    for (const entity of group.central) {
      for (const id of chunksOf.get(entity.node) ?? []) {
        const chunk = chunks.get(id);
        if (!chunk || used.has(id)) continue;
        used.add(id);
        for (const match of chunk.text.matchAll(SENTENCE)) {
          const text = match[0].trim().replace(/\s+/g, ' ');
          if (text.length < 20 || text.length > MAX_SENTENCE_LENGTH) continue;
          const present = new Set(terms(text));
          const score = weighted.reduce((sum, e) => (e.terms.every((t) => present.has(t)) ? sum + e.weight : sum), 0);
          if (score > 0) candidates.push({ text, score, chunkId: id, documentId: chunk.documentId });
        }
      }
    }
    const chosen: typeof candidates = [];
    for (const candidate of candidates.sort((a, b) => b.score - a.score || a.chunkId - b.chunkId)) {
      if (chosen.length >= SUMMARY_SENTENCES) break;
      if (!chosen.some((c) => c.text === candidate.text)) chosen.push(candidate);
    }
    const sources = [...new Map(chosen.map((c) => [c.chunkId, { documentId: c.documentId, chunkId: c.chunkId }])).values()];
    return {
      id: index + 1,
      size: group.size,
      entities: group.central.map((c) => names.get(c.node) ?? c.node),
      summary: chosen.map((c) => c.text).join(' '),
      sources,
    };
  });
}
