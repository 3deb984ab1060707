/*
 * execution/action-stats
 * ======================
 * Per-action counts and latencies of attempts run by the executor, for execution_status.
 * Latency percentiles come from the last 256 attempts of each action: recent enough to
 * show a slow dependency, small enough to keep per action.
 */

const WINDOW = 256;

interface Counters {
  succeeded: number;
  failed: number;
  totalMs: number;
  recent: number[];
  next: number;
}

export interface ActionFigures {
  action: string;
  succeeded: number;
  failed: number;
  meanMs: number;
  p95Ms: number;
}

export class ActionStats {
  private readonly byAction = new Map<string, Counters>();
  private attempts = 0;
  private totalMs = 0;

  record(action: string, ok: boolean, ms: number): void {
    let counters = this.byAction.get(action);
    if (!counters) {
      counters = { succeeded: 0, failed: 0, totalMs: 0, recent: [], next: 0 };
      this.byAction.set(action, counters);
    }
    if (ok) counters.succeeded++;
    else counters.failed++;
    counters.totalMs += ms;
    if (counters.recent.length < WINDOW) counters.recent.push(ms);
    else counters.recent[counters.next] = ms;
    counters.next = (counters.next + 1) % WINDOW;
    this.attempts++;
    this.totalMs += ms;
  }

  /** Mean attempt latency over every action, 0 before the first. */
  meanMs(): number {
    return this.attempts === 0 ? 0 : this.totalMs / this.attempts;
  }

  figures(): ActionFigures[] {
    return [...this.byAction.entries()]
      .map(([action, c]) => {
        const sorted = [...c.recent].sort((a, b) => a - b);
        const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? 0;
        const calls = c.succeeded + c.failed;
        return { action, succeeded: c.succeeded, failed: c.failed, meanMs: round(calls ? c.totalMs / calls : 0), p95Ms: round(p95) };
      })
      .sort((a, b) => a.action.localeCompare(b.action));
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
