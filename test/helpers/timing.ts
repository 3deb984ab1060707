/*
 * Waiting in tests: for a fixed time (only where the time itself is the point), or until
 * something holds (everything else). Never an assertion on how long something took.
 */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until probe() gives a value other than undefined or false, and returns it; a probe
 * that throws has not held yet. Throws naming `what` (and the probe's last error) when it
 * has not held within timeoutMs.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  { timeoutMs = 15_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const reason = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`${what} did not happen within ${timeoutMs / 1000} s${reason}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}
