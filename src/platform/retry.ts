/*
 * Retry timing for outbound HTTP (embeddings, chat): exponential backoff with jitter, and a
 * sleep that a cancelled request interrupts.
 */

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
