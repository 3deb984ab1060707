/*
 * registry_review: one artifact version (metadata and content) in front of the model for a
 * release review. Governed as registry_get on that version.
 */
import { z } from 'zod';
import { definePrompt, markdownTemplate } from '../src/surface/prompt.js';
import { registryGet } from '../tools/registry.js';

const template = markdownTemplate('registry-review.md');

export const registryReview = definePrompt({
  name: 'registry_review',
  engine: 'registry',
  title: 'Review an artifact version',
  description: 'Messages that put one artifact version (metadata and content) in front of the model for a release review.',
  args: z.object({
    name: z.string().describe('Artifact name, "namespace/name".'),
    version: z.string().describe('Version to review.'),
  }),
  scope: registryGet.scope,
  governedAs: { operation: registryGet.name, input: ({ name, version }) => ({ name, version }) },
  complete: {
    name: (value, _args, { engines }) => engines.registry.names(value),
    version: (value, { name }, { engines }) => (name ? engines.registry.versions(name, value) : Promise.resolve([])),
  },
  async render({ name, version }, ctx) {
    const artifact = await ctx.handle(registryGet, { name, version });
    const { content, encoding, ...meta } = artifact;
    const body =
      content === undefined
        ? `(content not inline: ${artifact.size} bytes; read ${artifact.contentUri})`
        : encoding === 'utf8'
          ? content
          : `(binary content, ${artifact.size} bytes; read ${artifact.contentUri})`;
    return {
      description: `Review of ${name}@${version}`,
      text: template({ name, version, metadata: JSON.stringify(meta, null, 2), mediaType: artifact.mediaType, content: body }),
    };
  },
});

export const REGISTRY_PROMPTS = [registryReview];
