/*
 * Outbound HTTP to OpenAI-compatible endpoints (embeddings, chat): a JSON POST retried on
 * network failures, 429 and 5xx with exponential backoff and jitter (or the server's
 * Retry-After), and a sleep that a cancelled request interrupts.
 */
import { EngineError } from '../errors.js';

export const backoff = (attempt: number) => Math.min(8000, 250 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

export interface PostJsonOptions {
  /** What the endpoint is, for messages: "embeddings", "chat". */
  what: string;
  apiKey?: string;
  /** Named in the message of a 401, e.g. EMBEDDINGS_API_KEY. */
  apiKeyVariable?: string;
  timeoutMs: number;
  maxAttempts: number;
  signal?: AbortSignal;
}

/** POSTs `payload` as JSON and returns the parsed body of the first 2xx answer. */
export async function postJsonWithRetries(url: string, payload: unknown, options: PostJsonOptions): Promise<unknown> {
  const { what, signal, maxAttempts } = options;
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
        body: JSON.stringify(payload),
        signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), ...(signal ? [signal] : [])]),
      });
    } catch (error) {
      if (signal?.aborted || attempt >= maxAttempts) throw new EngineError('UNAVAILABLE', `${what} endpoint ${url} is unreachable: ${(error as Error).message}`);
      await sleep(backoff(attempt), signal);
      continue;
    }
    if (response.ok) {
      try {
        return await response.json();
      } catch {
        throw new EngineError('UNAVAILABLE', `${what} endpoint ${url} answered with a body that is not JSON`);
      }
    }
    const retryable = response.status === 429 || response.status >= 500;
    const detail = (await response.text().catch(() => '')).slice(0, 300);
    if (!retryable || attempt >= maxAttempts) {
      const hint = response.status === 401 ? ` (check ${options.apiKeyVariable ?? 'the API key'})` : '';
      throw new EngineError('UNAVAILABLE', `${what} endpoint ${url} answered ${response.status}${detail ? `: ${detail}` : ''}${hint}`);
    }
    const retryAfter = Number(response.headers.get('retry-after'));
    await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : backoff(attempt), signal);
  }
}
