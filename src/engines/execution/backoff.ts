/*
 * execution/backoff
 * =================
 * Retry policy and the delay before the next attempt: exponential from initialDelayMs,
 * capped at maxDelayMs, with "full jitter" (a uniform draw between 0 and the capped
 * exponential), which spreads the retries of many failing tasks instead of having them
 * hit a recovering service in waves.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means no retry. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, initialDelayMs: 200, maxDelayMs: 10_000 };

/** Milliseconds to wait after the given (1-based) failed attempt. */
export function retryDelayMs(policy: RetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  const exponential = policy.initialDelayMs * 2 ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(policy.maxDelayMs, exponential);
  return Math.round(random() * capped);
}
