/*
 * rag_answer: retrieves context for a question and asks the model to answer only from it,
 * citing [n]. Governed as rag_query on the collection.
 */
import { z } from 'zod';
import { definePrompt, markdownTemplate } from '../src/surface/prompt.js';
import { ragQuery } from '../tools/rag.js';

const template = markdownTemplate('rag-answer.md');
const CONTEXT_CHUNKS = 8;

export const ragAnswer = definePrompt({
  name: 'rag_answer',
  engine: 'rag',
  title: 'Answer from a collection',
  description: 'Retrieves context for the question and asks the model to answer only from it, citing [n].',
  args: z.object({
    collection: z.string().describe('Collection to answer from.'),
    question: z.string().describe('The question.'),
  }),
  scope: ragQuery.scope,
  governedAs: { operation: ragQuery.name, input: ({ collection, question }) => ({ collection, query: question }) },
  complete: {
    collection: async (value, _args, { engines }) => (await engines.rag.collections()).map((c) => c.name).filter((name) => name.startsWith(value)),
  },
  async render({ collection, question }, ctx) {
    const { hits } = await ctx.handle(ragQuery, { collection, query: question, topK: CONTEXT_CHUNKS });
    const passages = hits
      .map((hit, i) => `[${i + 1}] ${hit.citation.title ?? hit.documentId} (document ${hit.documentId}, characters ${hit.citation.start}-${hit.citation.end})\n${hit.text}`)
      .join('\n\n');
    return {
      description: `Answer from "${collection}" with ${hits.length} retrieved passages`,
      text: template({ passages: passages || '(nothing relevant was found)', question }),
    };
  },
});

export const RAG_PROMPTS = [ragAnswer];
