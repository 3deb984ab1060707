/*
 * Waiting in tests: for a fixed time (only where the time itself is the point), or until
 * something holds (everything else). Never an assertion on how long something took.
 */

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until check() holds; throws naming `what` when it has not within timeoutMs. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, { timeoutMs = 15_000, intervalMs = 100 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(intervalMs);
  }
}
