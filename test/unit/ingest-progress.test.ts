import { describe, expect, it } from 'vitest';
import { createProgressReporter } from '../../src/ingest-progress.js';

function fakeStream(isTTY: boolean) {
  const stream = { isTTY, columns: 100, text: '', write(chunk: string) { stream.text += chunk; return true; } };
  return stream;
}

describe('ingest progress on stderr', () => {
  it('draws a bar with files, chunks, rate and time left on a terminal, and prints problems above it', () => {
    const stream = fakeStream(true);
    let now = 0;
    const reporter = createProgressReporter(stream as unknown as NodeJS.WriteStream, () => now);
    reporter.update({ phase: 'scanning', filesDone: 0, filesTotal: 100, chunks: 0 });
    now = 1000;
    reporter.update({ phase: 'ingesting', filesDone: 0, filesTotal: 100, chunks: 0 });
    now = 3000;
    reporter.update({ phase: 'ingesting', filesDone: 50, filesTotal: 100, chunks: 120 });
    expect(stream.text).toContain('\r\x1b[2K[###############---------------] 50/100 files · 120 chunks · 25 files/s · ETA 0:02');
    reporter.problem({ outcome: 'skipped', path: '/docs/logo.png', reason: 'binary content (NUL bytes)' });
    expect(stream.text).toContain('\r\x1b[2Kskipped /docs/logo.png: binary content (NUL bytes)\n\r\x1b[2K[###############---------------] 50/100 files');
    reporter.finish();
    expect(stream.text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('prints plain lines elsewhere, a few seconds apart', () => {
    const stream = fakeStream(false);
    let now = 0;
    const reporter = createProgressReporter(stream as unknown as NodeJS.WriteStream, () => now);
    reporter.update({ phase: 'scanning', filesDone: 10, filesTotal: 100, chunks: 0 });
    now = 500;
    reporter.update({ phase: 'ingesting', filesDone: 20, filesTotal: 100, chunks: 40 });
    now = 2500;
    reporter.update({ phase: 'ingesting', filesDone: 60, filesTotal: 100, chunks: 140 });
    reporter.problem({ outcome: 'failed', path: '/docs/bad.pdf', reason: 'PDF is encrypted' });
    expect(stream.text.split('\n').filter(Boolean)).toEqual([
      'ingest: scanned, 10/100 files, 0 chunks',
      'ingest: 60/100 files, 140 chunks, 20 files/s, ETA 0:02',
      'failed /docs/bad.pdf: PDF is encrypted',
    ]);
  });
});
