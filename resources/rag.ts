/*
 * RAG resources: a collection's figures, its GraphRAG communities, and one document's full
 * text. Each is governed as rag_query on its collection: reading a document is reading what
 * a query of that collection would return.
 */
import { notFound } from '../src/errors.js';
import { defineResource } from '../src/surface/resource.js';
import type { SurfaceContext } from '../src/surface/access.js';
import { collectionUri } from '../src/surface/uris.js';

const governedAs = { operation: 'rag_query', input: ({ collection }: { collection: string }) => ({ collection }) };

const collectionNames = async (prefix: string, { engines }: SurfaceContext) =>
  (await engines.rag.collections()).map((c) => c.name).filter((name) => name.startsWith(prefix));

export const ragCollection = defineResource({
  name: 'rag-collection',
  engine: 'rag',
  uriTemplate: 'rag://collections/{name}',
  title: 'RAG collection',
  description: 'A collection: counts, embedder, creation time.',
  scope: 'rag:read',
  governedAs: { operation: governedAs.operation, input: ({ name }) => ({ collection: name }) },
  async list({ engines }) {
    return (await engines.rag.collections()).map((c) => ({ uri: collectionUri(c.name), name: c.name, mimeType: 'application/json' }));
  },
  complete: { name: (value, _values, ctx) => collectionNames(value, ctx) },
  async read({ name }, { engines }) {
    const found = (await engines.rag.collections()).find((c) => c.name === name);
    if (!found) throw notFound(`no collection "${name}" (rag_collections lists them)`);
    return { mimeType: 'application/json', text: JSON.stringify(found) };
  },
});

export const ragCommunities = defineResource({
  name: 'rag-communities',
  engine: 'rag',
  uriTemplate: 'rag://collections/{name}/communities',
  title: 'RAG graph communities',
  description: "GraphRAG's global view: Louvain communities of a collection's entity graph, with central entities and an extractive summary.",
  scope: 'rag:read',
  governedAs: { operation: governedAs.operation, input: ({ name }) => ({ collection: name }) },
  complete: { name: (value, _values, ctx) => collectionNames(value, ctx) },
  async read({ name }, { engines }) {
    return { mimeType: 'application/json', text: JSON.stringify({ communities: await engines.rag.communities(name) }) };
  },
});

export const ragDocument = defineResource({
  name: 'rag-document',
  engine: 'rag',
  uriTemplate: 'rag://documents/{collection}/{id}',
  title: 'RAG document',
  description: 'The full text of an ingested document; id is URL-encoded.',
  scope: 'rag:read',
  governedAs,
  complete: {
    collection: (value, _values, ctx) => collectionNames(value, ctx),
    id: (value, { collection }, { engines }) => (collection ? engines.rag.documentIds(collection, value) : Promise.resolve([])),
  },
  async read({ collection, id }, { engines }) {
    const doc = await engines.rag.document(collection, id);
    return { mimeType: doc.mimeType, text: doc.text };
  },
});

export const RAG_RESOURCES = [ragCollection, ragCommunities, ragDocument];
