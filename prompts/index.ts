/*
 * The prompt registry
 * ===================
 * Every prompt, listed by hand and grouped by engine, like tools/index.ts. Each prompt's
 * text is a markdown template beside its declaration.
 */
import type { EngineId } from '../src/surface/operation.js';
import type { AnyPrompt } from '../src/surface/prompt.js';
import { PROMOTION_PROMPTS } from './promotion.js';
import { RAG_PROMPTS } from './rag.js';
import { REGISTRY_PROMPTS } from './registry.js';

export const ALL_PROMPTS: readonly AnyPrompt[] = [...RAG_PROMPTS, ...REGISTRY_PROMPTS, ...PROMOTION_PROMPTS] as unknown as AnyPrompt[];

/** The prompts of the engines whose tools are served (`--toolsets`, disabled engines). */
export function selectPrompts(engines: ReadonlySet<EngineId>): AnyPrompt[] {
  return ALL_PROMPTS.filter((prompt) => engines.has(prompt.engine));
}
