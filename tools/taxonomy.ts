/*
 * Taxonomy operations: look up concepts, walk the tree, classify text or an artifact.
 */
import { z } from 'zod';
import { invalidInput } from '../src/errors.js';
import { leanList as list, boundedText as text } from '../src/surface/fields.js';
import { defineOperation } from '../src/surface/operation.js';
import { encodeContent } from '../src/surface/content-encoding.js';


/** How much of an artifact's content classification reads. */
const CLASSIFY_CONTENT_CHARS = 64 * 1024;

export const taxonomyLookup = defineOperation({
  name: 'taxonomy_lookup',
  engine: 'taxonomy',
  title: 'Look up concepts',
  description: 'Find ontology concepts by IRI, id or label (fuzzy).',
  input: z.object({
    query: text(500).describe('IRI, id or label.'),
    limit: z.number().int().min(1).max(50).default(5).describe('Max results.'),
  }),
  output: z.object({ concepts: list('Best first; each {id, iri, label, altLabels, parents, children, score}.') }),
  annotations: { readOnlyHint: true },
  scope: 'taxonomy:read',
  async handler(input, { engines }) {
    return {
      concepts: engines.taxonomy.lookup(input.query, input.limit).map(({ concept, score }) => ({
        id: concept.id,
        iri: concept.iri,
        label: concept.label,
        altLabels: concept.altLabels,
        parents: concept.parents,
        children: concept.children,
        score,
      })),
    };
  },
});

export const taxonomyTree = defineOperation({
  name: 'taxonomy_tree',
  engine: 'taxonomy',
  title: 'Concept tree',
  description: 'Concept hierarchy below root (default: top concepts).',
  input: z.object({
    root: text(500, true).optional().describe('Concept id or IRI.'),
    depth: z.number().int().min(0).max(10).default(3).describe('Levels below root.'),
  }),
  output: z.object({ nodes: list('Pre-order; each {id, label, parent, depth}.') }),
  annotations: { readOnlyHint: true },
  scope: 'taxonomy:read',
  async handler(input, { engines }) {
    return { nodes: engines.taxonomy.tree(input.root, input.depth) };
  },
});

export const taxonomyClassify = defineOperation({
  name: 'taxonomy_classify',
  engine: 'taxonomy',
  title: 'Classify',
  description: 'Rank concepts for a text or an artifact, with the evidence that matched.',
  input: z
    .object({
      text: text(200_000).optional().describe('Text to classify.'),
      artifact: z.object({ name: text(128, true).describe('Name.'), version: text(128, true).describe('Version.') }).optional().describe('Or an artifact.'),
      limit: z.number().int().min(1).max(20).default(5).describe('Max results.'),
    })
    .refine((v) => (v.text === undefined) !== (v.artifact === undefined), { error: 'give exactly one of text or artifact' }),
  output: z.object({ concepts: list('Best first; each {id, label, score, evidence}.') }),
  annotations: { readOnlyHint: true },
  scope: 'taxonomy:read',
  async handler(input, { engines }) {
    let text = input.text;
    if (input.artifact) {
      const artifact = await engines.registry.getVersion(input.artifact.name, input.artifact.version);
      const encoded = encodeContent(artifact.mediaType, artifact.content);
      text = [
        artifact.name.replace(/[/._-]+/g, ' '),
        ...Object.entries(artifact.labels).map(([k, v]) => `${k} ${v}`),
        JSON.stringify(artifact.metadata),
        encoded.encoding === 'utf8' ? encoded.content.slice(0, CLASSIFY_CONTENT_CHARS) : '',
      ].join('\n');
    }
    if (!text) throw invalidInput('text: is empty');
    return {
      concepts: engines.taxonomy.classify(text, input.limit).map(({ concept, score, evidence }) => ({ id: concept.id, label: concept.label, score, evidence })),
    };
  },
});

export const TAXONOMY_OPERATIONS = [taxonomyLookup, taxonomyTree, taxonomyClassify];
