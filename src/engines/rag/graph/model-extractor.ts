/*
 * rag/graph/model-extractor
 * =========================
 * Entity and relation extraction by a language model: the connected client's, through MCP
 * sampling, or an OpenAI-compatible chat endpoint. The engine gets the model as a function
 * from a prompt to text and knows nothing of how it is reached. Each answer is parsed and
 * checked with zod; a chunk whose answer is not valid (or whose request failed) is
 * extracted by the heuristic extractor instead, with a warning in the log.
 */
import { z } from 'zod';
import { EngineError } from '../../../errors.js';
import type { Logger } from '../../../platform/log.js';
import { formatIssues } from '../../../zod-issues.js';
import { buildExtraction, MAX_ENTITIES_PER_CHUNK, MAX_NAME_LENGTH, type ChunkExtraction, type EntityExtractor } from './extraction.js';
import { extractHeuristically } from './heuristic-extractor.js';

export type Complete = (request: { system: string; prompt: string; maxTokens: number }, signal?: AbortSignal) => Promise<string>;

const SYSTEM = 'You extract knowledge graphs from text. You answer with one JSON object and nothing else.';
const MAX_TOKENS = 1200;
const CONCURRENCY = 4;

const modelAnswer = z.object({
  entities: z
    .array(z.object({ name: z.string().trim().min(1).max(MAX_NAME_LENGTH), type: z.string().max(40).default('name') }))
    .max(MAX_ENTITIES_PER_CHUNK * 2),
  relations: z.array(z.object({ source: z.string().min(1).max(MAX_NAME_LENGTH), target: z.string().min(1).max(MAX_NAME_LENGTH), label: z.string().min(1).max(60) })).max(200).default([]),
});

export function extractionPrompt(text: string): string {
  return [
    'Extract the named entities and defined terms in the text below, and the relations the text states between them.',
    'Answer with one JSON object: {"entities": [{"name": "...", "type": "organization|person|product|law|term|place|other"}], "relations": [{"source": "<entity name>", "target": "<entity name>", "label": "<short verb phrase>"}]}.',
    `Write names exactly as in the text. At most ${MAX_ENTITIES_PER_CHUNK / 2} entities.`,
    '',
    'Text:',
    '"""',
    text,
    '"""',
  ].join('\n');
}

/** The JSON object in a model's answer (models like to wrap it in prose or code fences). */
export function parseModelAnswer(answer: string, text: string): ChunkExtraction {
  const start = answer.indexOf('{');
  const end = answer.lastIndexOf('}');
  if (start === -1 || end <= start) throw new Error('no JSON object in the answer');
  const parsed = modelAnswer.safeParse(JSON.parse(answer.slice(start, end + 1)));
  if (!parsed.success) throw new Error(formatIssues(parsed.error.issues).join('; '));
  const lower = text.toLowerCase();
  const count = (name: string) => Math.max(1, lower.split(name.toLowerCase()).length - 1);
  return buildExtraction(
    parsed.data.entities.map((e) => ({ ...e, count: count(e.name) })),
    parsed.data.relations,
  );
}

export function createModelExtractor(options: { id: string; complete: Complete; log: Logger }): EntityExtractor {
  const extractOne = async (text: string, signal?: AbortSignal): Promise<ChunkExtraction> => {
    try {
      const answer = await options.complete({ system: SYSTEM, prompt: extractionPrompt(text), maxTokens: MAX_TOKENS }, signal);
      return parseModelAnswer(answer, text);
    } catch (error) {
      if (signal?.aborted) throw error;
      const reason = error instanceof EngineError || error instanceof Error ? error.message : String(error);
      options.log.warn({ extractor: options.id, reason }, 'model extraction unusable for a chunk; used the heuristic extractor');
      return extractHeuristically(text);
    }
  };
  return {
    id: options.id,
    async extract(texts, signal) {
      const out: ChunkExtraction[] = new Array(texts.length);
      let next = 0;
      const worker = async () => {
        while (next < texts.length) {
          const i = next++;
          out[i] = await extractOne(texts[i]!, signal);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, texts.length) }, worker));
      return out;
    },
  };
}
