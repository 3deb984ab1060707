/*
 * OpenAI-compatible chat completions
 * ==================================
 * POST {url}/v1/chat/completions with {model, messages, temperature 0, max_tokens}: OpenAI's
 * API and the servers that copy it (vLLM, Ollama, LocalAI, llama.cpp). Retries 429 and 5xx
 * with backoff (honouring Retry-After); returns the first choice's text.
 */
import { EngineError } from '../../errors.js';
import { postJsonWithRetries } from '../retry.js';

export interface ChatRequest {
  system: string;
  prompt: string;
  maxTokens: number;
}

export type ChatCompletion = (request: ChatRequest, signal?: AbortSignal) => Promise<string>;

export interface OpenAiChatOptions {
  /** Base URL, e.g. https://api.openai.com (with or without /v1). */
  url: string;
  model: string;
  apiKey?: string;
  maxAttempts?: number;
  timeoutMs?: number;
  /** Named in messages, e.g. "GRAPH_EXTRACTION_API_KEY". */
  apiKeyVariable?: string;
}

function endpoint(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/chat/completions') ? base : base.endsWith('/v1') ? `${base}/chat/completions` : `${base}/v1/chat/completions`;
}

export function createOpenAiChat(options: OpenAiChatOptions): ChatCompletion {
  const url = endpoint(options.url);
  const maxAttempts = options.maxAttempts ?? 3;
  return async (request, signal) => {
    const payload = {
      model: options.model,
      temperature: 0,
      max_tokens: request.maxTokens,
      messages: [
        { role: 'system', content: request.system },
        { role: 'user', content: request.prompt },
      ],
    };
    const body = (await postJsonWithRetries(url, payload, {
      what: 'chat',
      apiKey: options.apiKey,
      apiKeyVariable: options.apiKeyVariable,
      timeoutMs: options.timeoutMs ?? 60_000,
      maxAttempts,
      signal,
    })) as { choices?: { message?: { content?: unknown } }[] } | undefined;
    const content = body?.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new EngineError('UNAVAILABLE', `chat endpoint ${url} answered without choices[0].message.content`);
    return content;
  };
}
