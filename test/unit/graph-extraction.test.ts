/*
 * GraphRAG's pure parts: the heuristic extractor, reading a model's answer, and
 * personalized PageRank.
 */
import { UndirectedGraph } from 'graphology';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { extractHeuristically } from '../../src/engines/rag/graph/heuristic-extractor.js';
import { createModelExtractor, parseModelAnswer } from '../../src/engines/rag/graph/model-extractor.js';
import { personalizedPageRank } from '../../src/engines/rag/graph/personalized-pagerank.js';

describe('heuristic extractor', () => {
  it('finds names, defined terms and acronyms, keyed by the BM25 analyzer', () => {
    const { entities } = extractHeuristically(
      'The Free Software Foundation publishes the GNU General Public License. "Derivative Works" shall mean any work. It differs from the MIT license and the Apache License 2.0.',
    );
    expect(entities.map((e) => [e.name, e.key, e.type])).toEqual([
      ['Free Software Foundation', 'free softwar foundat', 'name'],
      ['GNU General Public License', 'gnu gener public licens', 'name'],
      ['Derivative Works', 'deriv work', 'term'],
      ['MIT', 'mit', 'name'],
      ['Apache License 2.0', 'apach licens 2 0', 'name'],
    ]);
  });

  it('labels neighbours with the phrase between them, other pairs in a sentence as co-occurring', () => {
    const { relations } = extractHeuristically('The Free Software Foundation publishes the GNU General Public License and the Lesser General Public License.');
    expect(relations).toEqual([
      { source: 'free softwar foundat', target: 'gnu gener public licens', label: 'publishes' },
      { source: 'free softwar foundat', target: 'lesser gener public licens', label: 'co-occurs' },
      { source: 'gnu gener public licens', target: 'lesser gener public licens', label: 'co-occurs' },
    ]);
  });

  it('ignores a sentence’s capitalized first word, text in capitals, and sentences with no names', () => {
    const { entities } = extractHeuristically('Permission is granted. THE SOFTWARE IS PROVIDED AS IS BY THE COPYRIGHT HOLDERS. nothing here is named.');
    expect(entities).toEqual([]);
  });

  it('counts repeated mentions once per entity', () => {
    const { entities } = extractHeuristically('Apache Software Foundation owns it. We thank the Apache Software Foundation.');
    expect(entities).toEqual([{ key: 'apach softwar foundat', name: 'Apache Software Foundation', type: 'name', count: 2 }]);
  });
});

describe('model answers', () => {
  const text = 'Acme Corp licenses the Widget SDK to Beta LLC. Acme Corp may revoke it.';

  it('reads the JSON object out of prose or code fences and counts mentions in the text', () => {
    const answer = 'Here you go:\n```json\n{"entities": [{"name": "Acme Corp", "type": "Organization"}, {"name": "Widget SDK", "type": "product"}], "relations": [{"source": "Acme Corp", "target": "Widget SDK", "label": "licenses"}]}\n```';
    expect(parseModelAnswer(answer, text)).toEqual({
      entities: [
        { key: 'acm corp', name: 'Acme Corp', type: 'organization', count: 2 },
        { key: 'widget sdk', name: 'Widget SDK', type: 'product', count: 1 },
      ],
      relations: [{ source: 'acm corp', target: 'widget sdk', label: 'licenses' }],
    });
  });

  it('rejects answers that are not the expected shape, naming what is wrong', () => {
    expect(() => parseModelAnswer('I cannot help with that.', text)).toThrow(/no JSON object/);
    expect(() => parseModelAnswer('{"entities": [{"type": "org"}]}', text)).toThrow(/entities\[0\]\.name/);
  });

  it('falls back to the heuristic extractor for a chunk whose answer is unusable, with a warning', async () => {
    const warnings: unknown[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const answers = ['{"entities": [{"name": "Beta LLC", "type": "organization"}], "relations": []}', 'not json at all'];
    const extractor = createModelExtractor({ id: 'test', log, complete: async () => answers.shift()! });
    const [first, second] = await extractor.extract(['Beta LLC signs.', 'The Free Software Foundation publishes the GNU General Public License.']);
    expect(first!.entities.map((e) => e.name)).toEqual(['Beta LLC']);
    expect(second!.entities.map((e) => e.name)).toEqual(['Free Software Foundation', 'GNU General Public License']);
    expect(warnings).toEqual([expect.objectContaining({ extractor: 'test', reason: 'no JSON object in the answer', msg: expect.stringContaining('heuristic') })]);
  });
});

describe('personalized PageRank', () => {
  const graph = new UndirectedGraph();
  for (const [a, b, weight] of [
    ['seed', 'near', 5],
    ['near', 'far', 1],
    ['seed', 'other', 1],
    ['island-a', 'island-b', 1],
  ] as const) {
    graph.mergeNode(a);
    graph.mergeNode(b);
    graph.addEdge(a, b, { weight });
  }

  it('ranks by closeness to the seeds through heavy edges, and gives unreachable nodes nothing', () => {
    const rank = personalizedPageRank(graph, new Map([['seed', 1]]));
    expect(rank.get('seed')!).toBeGreaterThan(rank.get('near')!);
    expect(rank.get('near')!).toBeGreaterThan(rank.get('other')!);
    expect(rank.get('near')!).toBeGreaterThan(rank.get('far')!);
    expect(rank.get('island-a')).toBe(0);
    expect([...rank.values()].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('returns nothing when no seed is in the graph', () => {
    expect(personalizedPageRank(graph, new Map([['absent', 1]])).size).toBe(0);
  });
});
