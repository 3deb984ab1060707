/*
 * `mcp-level3 ingest`: index a folder with the built command, re-run it, prune, then ask
 * about it over stdio as Claude Desktop would (and ingest a folder through rag_ingest's
 * sources, with progress notifications).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, runCli } from '../helpers/cli.js';
import { ONNX_EMBEDDER_ID, ONNX_MODEL_DIR, onnxModelMissing } from '../helpers/onnx-model.js';

interface Summary {
  collection: string;
  ingested: number;
  unchanged: number;
  skipped: number;
  failed: number;
  removed: number;
  chunks: number;
  skippedFiles: { path: string; reason: string }[];
  failedFiles: { path: string; reason: string }[];
}

describe('mcp-level3 ingest', () => {
  let base: string;
  let docs: string;
  let data: string;

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'cli-ingest-'));
    docs = join(base, 'docs');
    data = join(base, 'data');
    cpSync(resolve('test/fixtures/ingest'), docs, { recursive: true });
    cpSync(resolve('test/fixtures/ingest-bad/corrupt.pdf'), join(docs, 'reports', 'corrupt.pdf'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('refuses to run without paths or a collection', async () => {
    const noPaths = await runCli(['ingest', '--collection', 'docs', '--data-dir', 'memory://']);
    expect(noPaths.code).toBe(2);
    expect(noPaths.stderr).toContain('ingest: give the files or folders to ingest');
    const noCollection = await runCli(['ingest', docs, '--data-dir', 'memory://']);
    expect(noCollection.code).toBe(2);
    expect(noCollection.stderr).toContain('ingest: give --collection NAME');
  });

  it('indexes a folder, names skipped and failed files, prints a summary and exits 1 when a file failed', async () => {
    const run = await runCli(['ingest', docs, '--collection', 'docs', '--data-dir', data], cleanEnv(), { timeoutMs: 120_000 });
    const summary = JSON.parse(run.stdout) as Summary;
    expect(summary).toMatchObject({ collection: 'docs', ingested: 7, unchanged: 0, skipped: 1, failed: 1, removed: 0 });
    expect(summary.failedFiles).toEqual([{ path: join(docs, 'reports', 'corrupt.pdf'), reason: expect.stringContaining('not a readable PDF') }]);
    expect(run.code).toBe(1);
    // Not a terminal: plain progress lines, each problem named, and the summary in words.
    expect(run.stderr).toMatch(/^ingest: .*\d+\/\d+ files, \d+ chunks/m);
    expect(run.stderr).toContain(`skipped ${join(docs, 'assets', 'logo.png')}: binary content (NUL bytes)`);
    expect(run.stderr).toContain(`failed ${join(docs, 'reports', 'corrupt.pdf')}: not a readable PDF`);
    expect(run.stderr).toMatch(/ingest: 7 ingested, 0 unchanged, 1 skipped, 1 failed, 0 removed \(\d+ chunks\) into "docs"/);
  }, 150_000);

  it('skips what is unchanged and prunes what is gone', async () => {
    rmSync(join(docs, 'reports', 'corrupt.pdf'));
    rmSync(join(docs, 'notes', 'todo.txt'));
    writeFileSync(join(docs, 'notes', 'new.md'), '# New note\n\nThe lantern lens was polished on Sunday.');
    const run = await runCli(['ingest', docs, '--collection', 'docs', '--data-dir', data, '--prune'], cleanEnv(), { timeoutMs: 120_000 });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ ingested: 1, unchanged: 6, skipped: 1, failed: 0, removed: 1 });
  }, 150_000);

  it('indexes again, once GraphRAG is turned on, the files first indexed without it', async () => {
    const config = join(base, 'config-no-graph');
    cpSync(resolve('config'), config, { recursive: true });
    const engineMap = join(config, 'engine_map.yaml');
    writeFileSync(engineMap, readFileSync(engineMap, 'utf8').replace(/modules:\n(\s+- \w+\n)+/, 'modules: [VectorRAG]\n'));
    const guides = join(docs, 'guides');
    const args = ['ingest', guides, '--collection', 'guides', '--data-dir', data];
    const plain = await runCli([...args, '--config', config], cleanEnv(), { timeoutMs: 120_000 });
    expect(JSON.parse(plain.stdout)).toMatchObject({ ingested: 2 });
    const graph = await runCli(args, cleanEnv(), { timeoutMs: 120_000 });
    expect(JSON.parse(graph.stdout)).toMatchObject({ ingested: 2, unchanged: 0 });
    const again = await runCli(args, cleanEnv(), { timeoutMs: 120_000 });
    expect(JSON.parse(again.stdout)).toMatchObject({ ingested: 0, unchanged: 2 });
  }, 300_000);

  it('answers questions about the folder over stdio, with the PDF page in the citation', async () => {
    const client = new Client({ name: 'ingest-e2e', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, '--data-dir', data], env: cleanEnv({ RAG_INGEST_ROOTS: base }) as Record<string, string>, stderr: 'pipe' }));
    try {
      const found = await client.callTool({ name: 'rag_query', arguments: { collection: 'docs', query: 'lighthouse restoration fund', mode: 'fulltext', topK: 1 } });
      const hit = (found.structuredContent as { hits: { documentId: string; citation: { page?: number; uri: string } }[] }).hits[0]!;
      expect(hit.documentId).toBe('reports/annual-report.pdf');
      expect(hit.citation).toMatchObject({ page: 3, uri: `file://${join(docs, 'reports', 'annual-report.pdf')}` });

      const progress: number[] = [];
      const ingested = await client.callTool({ name: 'rag_ingest', arguments: { collection: 'again', sources: [{ path: docs }] } }, undefined, {
        onprogress: (p) => void progress.push(p.progress),
      });
      expect(ingested.isError).toBeFalsy();
      expect(ingested.structuredContent).toMatchObject({ ingested: 7 });
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every((p, i) => i === 0 || p > progress[i - 1]!)).toBe(true);
    } finally {
      await client.close();
    }
  }, 150_000);
});

describe.skipIf(onnxModelMissing)(`mcp-level3 ingest and rag reembed with the local model${onnxModelMissing ? ` (skipped: ${onnxModelMissing})` : ''}`, () => {
  let base: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'cli-reembed-'));
    cpSync(resolve('test/fixtures/ingest/notes'), join(base, 'docs'), { recursive: true });
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('waits for the vectors after the text, and moves a collection between embedders with progress', async () => {
    const data = join(base, 'data');
    // The default embedder (EMBEDDINGS_PROVIDER unset): the text first, then the vectors.
    const model = cleanEnv({ EMBEDDINGS_PROVIDER: '', EMBEDDINGS_MODEL_DIR: ONNX_MODEL_DIR, EMBEDDINGS_THREADS: '1' });
    const ingest = await runCli(['ingest', join(base, 'docs'), '--collection', 'notes', '--data-dir', data], model, { timeoutMs: 120_000 });
    expect(ingest.code).toBe(0);
    expect(ingest.stderr).toMatch(/ingest: vectors ready in [\d.]+ s/);

    // To the offline embedder and back: the same command, whichever the server's embedder is.
    const toOffline = await runCli(['rag', 'reembed', 'notes', '--data-dir', data], cleanEnv(), { timeoutMs: 120_000 });
    expect(toOffline.stderr).toMatch(/rag reembed: moving "notes" to offline-hash-768@2.*\n(.*\n)*rag reembed: vectors ready/);
    expect(toOffline.code).toBe(0);
    const again = await runCli(['rag', 'reembed', 'notes', '--data-dir', data], cleanEnv(), { timeoutMs: 60_000 });
    expect(again.stderr).toContain('rag reembed: "notes" is already embedded with offline-hash-768@2');
    const back = await runCli(['rag', 'reembed', 'notes', '--data-dir', data], model, { timeoutMs: 120_000 });
    expect(back.stderr).toMatch(new RegExp(`moving "notes" to ${ONNX_EMBEDDER_ID.replace(/[.]/g, '\\.')}`));
    expect(back.code).toBe(0);

    const missing = await runCli(['rag', 'reembed', 'nope', '--data-dir', data], cleanEnv(), { timeoutMs: 60_000 });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('rag reembed: collection: no collection "nope"');
    const usage = await runCli(['rag', 'reembed', '--data-dir', data], cleanEnv());
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('rag reembed: give the collection to move');
  }, 300_000);
});
