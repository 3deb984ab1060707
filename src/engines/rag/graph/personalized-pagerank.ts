/*
 * rag/graph/personalized-pagerank
 * ===============================
 * PageRank whose random walk restarts at the query's entities instead of anywhere
 * (Haveliwala 2002; HippoRAG uses it the same way): entities close to many seeds through
 * heavy relations score high. graphology-metrics' pagerank has no personalization vector,
 * so this is the power iteration over a graphology graph, with edge weights, and dangling
 * mass returned to the seeds.
 */
import type { AbstractGraph } from 'graphology-types';

export interface PersonalizedPageRankOptions {
  /** Probability of following an edge rather than restarting at a seed. */
  alpha?: number;
  maxIterations?: number;
  /** Stop when the L1 change of an iteration is below this. */
  tolerance?: number;
}

export function personalizedPageRank(graph: AbstractGraph, seeds: ReadonlyMap<string, number>, options: PersonalizedPageRankOptions = {}): Map<string, number> {
  const alpha = options.alpha ?? 0.85;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-6;
  const nodes = graph.nodes();
  const index = new Map(nodes.map((node, i) => [node, i]));
  const restart = new Float64Array(nodes.length);
  let seedTotal = 0;
  for (const [node, weight] of seeds) {
    const i = index.get(node);
    if (i === undefined || !(weight > 0)) continue;
    restart[i] = restart[i]! + weight;
    seedTotal += weight;
  }
  if (seedTotal === 0) return new Map();
  for (let i = 0; i < restart.length; i++) restart[i]! /= seedTotal;

  // Out-neighbours with normalized weights, flattened once.
  const offsets = new Int32Array(nodes.length + 1);
  const targets: number[] = [];
  const shares: number[] = [];
  nodes.forEach((node, i) => {
    let total = 0;
    const local: [number, number][] = [];
    graph.forEachOutboundEdge(node, (_edge, attributes, source, target) => {
      const other = source === node ? target : source;
      const weight = Number((attributes as { weight?: number }).weight ?? 1);
      local.push([index.get(other)!, weight]);
      total += weight;
    });
    for (const [j, weight] of local) {
      targets.push(j);
      shares.push(weight / total);
    }
    offsets[i + 1] = targets.length;
  });

  let rank = Float64Array.from(restart);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const next = new Float64Array(nodes.length);
    let dangling = 0;
    for (let i = 0; i < nodes.length; i++) {
      if (offsets[i] === offsets[i + 1]) dangling += rank[i]!;
      for (let k = offsets[i]!; k < offsets[i + 1]!; k++) next[targets[k]!]! += alpha * rank[i]! * shares[k]!;
    }
    let change = 0;
    for (let i = 0; i < nodes.length; i++) {
      next[i]! += ((1 - alpha) + alpha * dangling) * restart[i]!;
      change += Math.abs(next[i]! - rank[i]!);
    }
    rank = next;
    if (change < tolerance) break;
  }
  return new Map(nodes.map((node, i) => [node, rank[i]!]));
}
