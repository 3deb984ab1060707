/*
 * Taxonomy resources: one ontology concept with its ancestors.
 */
import { defineResource } from '../src/surface/resource.js';
import { conceptUri } from '../src/surface/uris.js';

export const taxonomyConcept = defineResource({
  name: 'taxonomy-concept',
  engine: 'taxonomy',
  uriTemplate: 'taxonomy://concepts/{id}',
  title: 'Taxonomy concept',
  description: 'One ontology concept: labels, definition, parents, children and ancestors.',
  scope: 'taxonomy:read',
  governedAs: { operation: 'taxonomy_lookup', input: ({ id }) => ({ query: id }) },
  async list({ engines }) {
    return engines.taxonomy.concepts.map((c) => ({ uri: conceptUri(c.id), name: c.label, mimeType: 'application/json' }));
  },
  complete: {
    id: async (value, _values, { engines }) =>
      engines.taxonomy.concepts
        .map((c) => c.id)
        .filter((id) => id.toLowerCase().startsWith(value.toLowerCase()))
        .slice(0, 50),
  },
  async read({ id }, { engines }) {
    const concept = engines.taxonomy.get(id);
    const ancestors: string[] = [];
    const queue = [...concept.parents];
    while (queue.length > 0) {
      const next = queue.shift()!;
      if (ancestors.includes(next)) continue;
      ancestors.push(next);
      queue.push(...engines.taxonomy.get(next).parents);
    }
    return { mimeType: 'application/json', text: JSON.stringify({ ...concept, ancestors }) };
  },
});

export const TAXONOMY_RESOURCES = [taxonomyConcept];
