/*
 * Prompt declarations
 * ===================
 * One declaration per prompt, shaped like defineOperation: name, engine, zod arguments,
 * scope, the operation a get is governed as, completions, and a render step that fills a
 * markdown template kept beside the declaration (prompts/<name>.md).
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { assetPath } from '../package-info.js';
import type { EngineId } from '../engines/engine-names.js';
import type { Completer, GovernedAs, SurfaceContext } from './access.js';

export interface RenderedPrompt {
  description: string;
  /** The one user message the prompt produces. */
  text: string;
}

export interface PromptDeclaration<A extends z.ZodObject = z.ZodObject> {
  /** snake_case, e.g. `rag_answer`. */
  name: string;
  engine: EngineId;
  title: string;
  description: string;
  args: A;
  scope: string;
  governedAs: GovernedAs<z.output<A>>;
  complete?: Partial<Record<keyof z.output<A> & string, Completer<z.output<A>>>>;
  render(args: z.output<A>, ctx: SurfaceContext): Promise<RenderedPrompt>;
}

export type AnyPrompt = PromptDeclaration<z.ZodObject>;

export function definePrompt<A extends z.ZodObject>(prompt: PromptDeclaration<A>): PromptDeclaration<A> {
  return prompt;
}

/**
 * A markdown template in prompts/, beside the declarations, read on first use (not at start:
 * a stdio client's `initialize` does not wait for it). `{{name}}` placeholders are replaced
 * by the values given; a placeholder without a value is an error in the template.
 */
export function markdownTemplate(file: string): (values: Record<string, string>) => string {
  let text: string | undefined;
  return (values) => {
    text ??= readFileSync(assetPath('prompts', file), 'utf8');
    return text.replace(/\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}/g, (_, key: string) => {
      const value = values[key];
      if (value === undefined) throw new Error(`prompt template ${file}: no value for {{${key}}}`);
      return value;
    });
  };
}
