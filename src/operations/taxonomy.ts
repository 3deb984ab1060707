/*
 * Taxonomy operations: look up concepts, walk the tree, classify text or an artifact.
 */
import { z } from 'zod';
import { invalidInput } from '../errors.js';
import { artifactName, artifactVersion } from './fields.js';
import { defineOperation } from './operation.js';
import { encodeContent } from './registry.js';

/** How much of an artifact's content classification reads. */
const CLASSIFY_CONTENT_CHARS = 64 * 1024;

export const taxonomyLookup = defineOperation({
  name: 'taxonomy_lookup',
  engine: 'taxonomy',
  title: 'Look up concepts',
  description: 'Find ontology concepts by IRI, id or label (fuzzy), with labels, parents and children.',
  input: z.object({
    query: z.string().min(1).max(500).describe('IRI, id or label.'),
    limit: z.number().int().min(1).max(50).default(5).describe('Most results.'),
  }),
  output: z.object({
    concepts: z
      .array(
        z.object({
          id: z.string().describe('Id.'),
          iri: z.string().describe('IRI.'),
          label: z.string().describe('Preferred label.'),
          altLabels: z.array(z.string()).describe('Other labels.'),
          parents: z.array(z.string()).describe('Parent ids.'),
          children: z.array(z.string()).describe('Child ids.'),
          score: z.number().describe('Match, 0-1.'),
        }),
      )
      .describe('Best first.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
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
  description: 'The concept hierarchy below root (default: the top concepts), in pre-order.',
  input: z.object({
    root: z.string().max(500).optional().describe('Concept id or IRI.'),
    depth: z.number().int().min(0).max(10).default(3).describe('Levels below root.'),
  }),
  output: z.object({
    nodes: z
      .array(
        z.object({
          id: z.string().describe('Id.'),
          label: z.string().describe('Label.'),
          parent: z.string().nullable().describe('Parent id.'),
          depth: z.number().int().describe('Level.'),
        }),
      )
      .describe('Pre-order.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'taxonomy:read',
  async handler(input, { engines }) {
    return { nodes: engines.taxonomy.tree(input.root, input.depth) };
  },
});

export const taxonomyClassify = defineOperation({
  name: 'taxonomy_classify',
  engine: 'taxonomy',
  title: 'Classify',
  description: 'Rank concepts for a text or a registry artifact, with the labels and terms that matched.',
  input: z
    .object({
      text: z.string().min(1).max(200_000).optional().describe('Text to classify.'),
      artifact: z.object({ name: artifactName(), version: artifactVersion() }).optional().describe('Or an artifact.'),
      limit: z.number().int().min(1).max(20).default(5).describe('Most results.'),
    })
    .refine((v) => (v.text === undefined) !== (v.artifact === undefined), { error: 'give exactly one of text or artifact' }),
  output: z.object({
    concepts: z
      .array(
        z.object({
          id: z.string().describe('Id.'),
          label: z.string().describe('Label.'),
          score: z.number().describe('Score.'),
          evidence: z.array(z.string()).describe('What matched.'),
        }),
      )
      .describe('Best first.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
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
