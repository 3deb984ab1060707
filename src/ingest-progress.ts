/*
 * ingest-progress
 * ===============
 * What `mcp-level3 ingest` shows on stderr while it works. On a terminal: one progress bar
 * redrawn in place (files, chunks, files per second, time left), with skipped and failed
 * files printed above it as they are decided. Elsewhere (a pipe, a log file, CI): a plain
 * progress line every few seconds, and the same skipped and failed lines.
 */
import type { FileProblem, FileProgress } from './engines/rag/sources/file-ingest.js';

export interface ProgressReporter {
  update(progress: FileProgress): void;
  problem(problem: FileProblem & { outcome: 'skipped' | 'failed' }): void;
  /** Clears the bar (terminal) before the summary. */
  finish(): void;
}

const REDRAW_MS = 100;
const LINE_EVERY_MS = 2_000;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function createProgressReporter(stream: NodeJS.WriteStream, now: () => number = () => performance.now()): ProgressReporter {
  const tty = stream.isTTY === true;
  const started = now();
  let last: FileProgress | undefined;
  let firstDone: { at: number; files: number } | undefined;
  let drawnAt = -Infinity;
  let barShown = false;

  const figures = (p: FileProgress) => {
    const elapsed = (now() - started) / 1000;
    const since = firstDone ? (now() - firstDone.at) / 1000 : 0;
    const rate = firstDone && since > 0.5 ? (p.filesDone - firstDone.files) / since : undefined;
    const eta = rate && rate > 0 ? (p.filesTotal - p.filesDone) / rate : undefined;
    return { elapsed, rate, eta };
  };

  const draw = (force = false) => {
    if (!last) return;
    const t = now();
    if (!force && t - drawnAt < (tty ? REDRAW_MS : LINE_EVERY_MS)) return;
    drawnAt = t;
    const p = last;
    const { rate, eta } = figures(p);
    const text = `${p.filesDone}/${p.filesTotal} files · ${p.chunks} chunks${rate !== undefined ? ` · ${rate.toFixed(rate < 10 ? 1 : 0)} files/s` : ''}${eta !== undefined ? ` · ETA ${duration(eta)}` : ''}`;
    if (tty) {
      const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - text.length - 4));
      const filled = p.filesTotal > 0 ? Math.round((p.filesDone / p.filesTotal) * width) : 0;
      stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
      barShown = true;
    } else stream.write(`ingest: ${p.phase === 'scanning' ? 'scanned, ' : ''}${text.replace(/ · /g, ', ')}\n`);
  };

  return {
    update(progress) {
      // The rate counts from the first report after the scan, so unchanged files found by the scan do not inflate it.
      if (!firstDone && progress.phase === 'ingesting') firstDone = { at: now(), files: progress.filesDone };
      last = progress;
      draw(progress.phase === 'scanning');
    },
    problem({ path, reason, outcome }) {
      if (tty && barShown) stream.write('\r\x1b[2K');
      stream.write(`${outcome} ${path}: ${reason}\n`);
      if (tty && barShown) draw(true);
    },
    finish() {
      if (tty && barShown) stream.write('\r\x1b[2K');
      else if (!tty && last && now() - drawnAt >= 1) draw(true);
    },
  };
}
