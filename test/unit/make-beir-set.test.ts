/*
 * bench/make-beir-set.mjs writes a valid BEIR set (the format bench/eval-rag.mjs reads), the
 * same one on every run, with labels that are not circular. It reads the machine's man pages
 * and /usr/share/doc, so it needs groff and English man pages.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const script = join(import.meta.dirname, '../../bench/make-beir-set.mjs');
const hasGroff = spawnSync('groff', ['--version']).status === 0;
const hasPages = existsSync('/usr/share/man/man1') && existsSync('/usr/share/doc');
const skip = !hasGroff || !hasPages;
const out = mkdtempSync(join(tmpdir(), 'beir-set-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
// Reading every change log under /usr/share/doc takes tens of seconds on a busy machine: the
// distractors come from the first 80 packages' doc dirs (sorted, so the same ones every run).
const docRoot = join(out, 'doc');
if (!skip) {
  mkdirSync(docRoot);
  for (const pkg of readdirSync('/usr/share/doc').sort().slice(0, 80)) symlinkSync(join('/usr/share/doc', pkg), join(docRoot, pkg));
}

function generate(dir: string, ...args: string[]) {
  return spawnSync(process.execPath, [script, '--out', dir, '--doc-root', docRoot, ...args], { encoding: 'utf8', timeout: 120_000 });
}
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Record<string, unknown>);
const normalize = (text: string) => ` ${text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim()} `;

describe.skipIf(skip)(`make-beir-set${skip ? ' (skipped: needs groff and man pages under /usr/share/man; Debian: man-db, groff-base)' : ''}`, () => {
  it('writes 50 documents, queries and qrels that reference them', () => {
    const first = generate(join(out, 'a'), '--docs', '50', '--queries', '20');
    expect(first.status, first.stderr).toBe(0);
    const corpus = lines(join(out, 'a', 'corpus.jsonl'));
    expect(corpus).toHaveLength(50);
    for (const doc of corpus) {
      expect(typeof doc._id).toBe('string');
      expect(typeof doc.title).toBe('string');
      expect((doc.text as string).length).toBeGreaterThanOrEqual(300);
    }
    const ids = new Set(corpus.map((d) => d._id));
    expect(ids.size).toBe(50);
    expect(corpus.filter((d) => (d.metadata as { source: string }).source === 'man')).toHaveLength(25);

    const queries = lines(join(out, 'a', 'queries.jsonl'));
    expect(queries.length).toBeGreaterThan(0);
    expect(queries.length).toBeLessThanOrEqual(20);
    const queryText = new Map(queries.map((q) => [q._id as string, q.text as string]));

    const [header, ...rows] = readFileSync(join(out, 'a', 'qrels.tsv'), 'utf8').trimEnd().split('\n');
    expect(header).toBe('query-id\tcorpus-id\tscore');
    expect(rows).toHaveLength(queries.length);
    const byId = new Map(corpus.map((d) => [d._id as string, d]));
    for (const row of rows) {
      const [queryId, docId, score] = row.split('\t');
      expect(queryText.has(queryId!), `${queryId} is in queries.jsonl`).toBe(true);
      expect(byId.has(docId!), `${docId} is in corpus.jsonl`).toBe(true);
      expect(score).toBe('1');
      // not circular: the query's text is nowhere in the corpus, its own page included
      for (const doc of corpus) expect(normalize(doc.text as string)).not.toContain(normalize(queryText.get(queryId!)!));
    }
    expect(readFileSync(join(out, 'a', 'PROVENANCE.md'), 'utf8')).toMatch(/## Queries: \d+/);
  });

  it('writes the same set again from the same machine and seed', () => {
    const again = generate(join(out, 'b'), '--docs', '50', '--queries', '20');
    expect(again.status, again.stderr).toBe(0);
    for (const file of ['corpus.jsonl', 'queries.jsonl', 'qrels.tsv']) {
      expect(readFileSync(join(out, 'b', file), 'utf8'), file).toBe(readFileSync(join(out, 'a', file), 'utf8'));
    }
  });

  it('refuses a bad size with a message naming the option', () => {
    const bad = generate(join(out, 'c'), '--docs', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--docs must be a positive integer');
    expect(existsSync(join(out, 'c'))).toBe(false);
  });
});
