/*
 * GraphRAG as an agent sees it through rag_ingest, rag_query and rag_delete, on every
 * backend: the graph mode, graph fused into hybrid, replacement and deletion of a
 * document's graph, communities, and what a collection without a graph answers.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyOperation } from '../../src/surface/operation.js';
import { ragDelete, ragIngest, ragQuery } from '../../tools/rag.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';
import { failure } from '../helpers/failures.js';

const DOCS = [
  {
    id: 'gpl',
    title: 'GPL notes',
    text: 'The Free Software Foundation publishes the GNU General Public License. The GNU General Public License requires the Corresponding Source to be offered.',
    metadata: { family: 'GPL' },
  },
  {
    id: 'lgpl',
    title: 'LGPL notes',
    text: 'The Free Software Foundation publishes the Lesser General Public License, which permits linking from proprietary programs.',
    metadata: { family: 'GPL' },
  },
  {
    id: 'apache',
    title: 'Apache notes',
    text: 'The Apache Software Foundation publishes the Apache License. The Apache License grants a patent license from each Contributor.',
    metadata: { family: 'Apache' },
  },
];

/** A copy of the shipped config with RAG_engine.modules changed. */
export function configWithModules(modules: string[]): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-level3-config-'));
  cpSync('config', dir, { recursive: true });
  const file = join(dir, 'engine_map.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/modules:\n(\s+- \w+\n)+/, `modules: [${modules.join(', ')}]\n`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`GraphRAG operations on ${title(backend)}`, () => {
    let t: TestApp;
    const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);
    const graphQuery = (query: string, extra: Record<string, unknown> = {}) => call(ragQuery, { collection: 'notes', query, mode: 'graph', topK: 5, ...extra });

    beforeAll(async () => {
      t = await startTestApp(backend);
      await call(ragIngest, { collection: 'notes', documents: DOCS });
    });
    afterAll(async () => t?.close());

    it('answers graph mode from the entities the query names, with their relation paths', async () => {
      const result = await graphQuery('who publishes the Lesser General Public License?');
      expect(result.hits[0]).toMatchObject({ documentId: 'lgpl', retrievers: { graph: 1 } });
      expect(result.hits.every((h, i) => h.retrievers.graph === i + 1 && Object.keys(h.retrievers).length === 1)).toBe(true);
      expect(result.graph!.entities[0]).toBe('Lesser General Public License');
      expect(result.graph!.entities).toContain('Free Software Foundation');
      expect(result.graph!.paths).toContain('Lesser General Public License ←publishes– Free Software Foundation');
    });

    it('reaches documents through shared entities: the publisher leads to its other license', async () => {
      const { hits, graph } = await graphQuery('Free Software Foundation');
      expect(hits.map((h) => h.documentId).sort()).toEqual(['gpl', 'lgpl']);
      expect(graph!.paths.some((p) => p.startsWith('Free Software Foundation –publishes→ GNU General Public License'))).toBe(true);
    });

    it('fuses graph ranks into hybrid and explains them', async () => {
      const { hits, graph } = await call(ragQuery, { collection: 'notes', query: 'Apache License patent', topK: 3 });
      expect(hits[0]).toMatchObject({ documentId: 'apache', retrievers: { graph: 1, fulltext: 1 } });
      expect(graph!.entities[0]).toBe('Apache License');
    });

    it('in hybrid, names the entities of a query that names none outright, without expanding the graph or fusing it', async () => {
      // "Contributor" is one word: it names an entity, but not outright enough to anchor the query.
      const { hits, graph } = await call(ragQuery, { collection: 'notes', query: 'what does a contributor grant', topK: 3 });
      expect(hits[0]).toMatchObject({ documentId: 'apache' });
      expect(hits.every((h) => h.retrievers.graph === undefined)).toBe(true);
      expect(graph).toEqual({ entities: ['Contributor'], paths: [] });
      // The same query in graph mode expands from it.
      const expanded = await graphQuery('what does a contributor grant');
      expect(expanded.graph!.paths.length).toBeGreaterThan(0);
    });

    it('applies metadata filters to graph hits', async () => {
      const { hits } = await graphQuery('Free Software Foundation', { filter: { family: 'Apache' } });
      expect(hits).toEqual([]);
      const gpl = await graphQuery('Free Software Foundation publishes', { filter: { family: 'GPL' } });
      expect(gpl.hits.length).toBe(2);
    });

    it('replaces a re-ingested document’s entities and removes a deleted one’s, keeping shared ones', async () => {
      await call(ragIngest, { collection: 'notes', documents: [{ ...DOCS[2]!, text: 'The Apache Software Foundation publishes the Apache License. It names Trademark Notices.' }] });
      expect((await graphQuery('Contributor')).hits).toEqual([]);
      expect((await graphQuery('Trademark Notices')).hits.map((h) => h.documentId)).toEqual(['apache']);

      await call(ragDelete, { collection: 'notes', documentIds: ['gpl'] });
      expect((await graphQuery('GNU General Public License')).hits).toEqual([]);
      // shared with lgpl: survives
      expect((await graphQuery('Free Software Foundation')).hits.map((h) => h.documentId)).toEqual(['lgpl']);
      await call(ragIngest, { collection: 'notes', documents: [DOCS[0]!] });
    });

    it('summarizes the graph’s communities from the chunks’ own sentences', async () => {
      const { engines } = await t.app.services();
      await call(ragIngest, {
        collection: 'global',
        documents: [
          { id: 'a', text: 'Alice Smith founded Acme Robotics with Bob Jones. Acme Robotics builds Delivery Drones with Bob Jones.' },
          { id: 'b', text: 'The Harbor Museum hosts the Maritime Archive. The Maritime Archive lends maps to the Harbor Museum and the City Library.' },
        ],
      });
      const communities = await engines.rag.communities('global');
      expect(communities).toHaveLength(2);
      const robotics = communities.find((c) => c.entities.includes('Acme Robotics'))!;
      expect(robotics.entities).toEqual(expect.arrayContaining(['Alice Smith', 'Bob Jones', 'Delivery Drones']));
      expect(robotics.summary).toContain('Acme Robotics builds Delivery Drones with Bob Jones.');
      expect(robotics.sources).toEqual([{ documentId: 'a', chunkId: expect.any(Number) }]);
      expect(communities.find((c) => c.entities.includes('Maritime Archive'))!.sources[0]!.documentId).toBe('b');
    });

    it('handles entities named like Object.prototype properties ("Constructor")', async () => {
      // graphology keeps neighbours in plain objects: an unprefixed node "constructor" broke every edge to it
      const { engines } = await t.app.services();
      await call(ragIngest, {
        collection: 'api',
        documents: [{ id: 'c', text: 'The Widget Factory calls the Constructor of the Gadget Class. The Gadget Class inherits the Constructor from the Object Base.' }],
      });
      const { hits, graph } = await call(ragQuery, { collection: 'api', query: 'Constructor', mode: 'graph' });
      expect(hits.map((h) => h.documentId)).toEqual(['c']);
      expect(graph!.entities).toContain('Constructor');
      expect(graph!.paths.join(' ')).toContain('Constructor');
      const communities = await engines.rag.communities('api');
      expect(communities.flatMap((c) => c.entities)).toContain('Constructor');
    });

    it('says how to get a graph when a collection has none', async () => {
      await call(ragIngest, { collection: 'plain', documents: [{ id: 'p', text: 'nothing in this text is capitalized or quoted.' }] });
      const error = await failure(call(ragQuery, { collection: 'plain', query: 'capitalized', mode: 'graph' }));
      expect(error.message).toContain('collection "plain" has no graph yet');
      expect(error.message).toContain('ingest its documents again');
      // hybrid still works and says nothing about a graph
      const hybrid = await call(ragQuery, { collection: 'plain', query: 'capitalized' });
      expect(hybrid.hits.map((h) => h.documentId)).toEqual(['p']);
      expect(hybrid.graph).toBeUndefined();
    });

    it('builds the graph of documents ingested while GraphRAG was off once it is on', async () => {
      const config = configWithModules(['VectorRAG', 'HybridRAG']);
      const off = await startTestApp(backend, { configDir: config.dir, configExplicit: true });
      try {
        await off.app.invoke(ragIngest, { collection: 'later', documents: DOCS }, ADMIN);
        const error = await failure(off.app.invoke(ragQuery, { collection: 'later', query: 'Apache License', mode: 'graph' }, ADMIN));
        expect(error.message).toContain('add GraphRAG to RAG_engine.modules');
        expect((await off.app.invoke(ragQuery, { collection: 'later', query: 'Apache License' }, ADMIN)).graph).toBeUndefined();
      } finally {
        await off.close();
        config.remove();
      }
    });
  });
}

const NEO4J_URI = process.env.NEO4J_URI;

describe.skipIf(!NEO4J_URI)(`GraphRAG operations with the Neo4j store${NEO4J_URI ? '' : ' (skipped: set NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD to a Neo4j 5 server)'}`, () => {
  let t: TestApp;
  // Neo4j is shared between runs: a collection of this run's own.
  const collection = `notes-${Date.now().toString(36)}`;
  const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);

  beforeAll(async () => {
    t = await startTestApp({ name: 'pglite + neo4j' }, { env: { NEO4J_URI, NEO4J_USER: process.env.NEO4J_USER, NEO4J_PASSWORD: process.env.NEO4J_PASSWORD } });
    await call(ragIngest, { collection, documents: DOCS });
  });
  afterAll(async () => {
    await call(ragDelete, { collection, documentIds: DOCS.map((d) => d.id) }).catch(() => undefined);
    await t?.close();
  });

  it('keeps the graph in Neo4j and answers graph mode from it', async () => {
    expect((await t.app.services()).graph!.kind).toBe('neo4j');
    const { hits, graph } = await call(ragQuery, { collection, query: 'who publishes the Lesser General Public License?', mode: 'graph', topK: 5 });
    expect(hits[0]).toMatchObject({ documentId: 'lgpl', retrievers: { graph: 1 } });
    expect(graph!.paths).toContain('Lesser General Public License ←publishes– Free Software Foundation');
  });

  it('removes a deleted document’s graph, keeping shared entities', async () => {
    await call(ragDelete, { collection, documentIds: ['gpl'] });
    expect((await call(ragQuery, { collection, query: 'GNU General Public License', mode: 'graph' })).hits).toEqual([]);
    expect((await call(ragQuery, { collection, query: 'Free Software Foundation', mode: 'graph' })).hits.map((h) => h.documentId)).toEqual(['lgpl']);
  });
});
