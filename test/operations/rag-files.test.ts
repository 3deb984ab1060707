import { appendFileSync, chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyOperation } from '../../src/surface/operation.js';
import { ingestFiles, type FileIngestOptions } from '../../src/engines/rag/sources/file-ingest.js';
import { ragIngest, ragQuery } from '../../tools/rag.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';
import { failure } from '../helpers/failures.js';

const refusal = async (call: Promise<unknown>) => (await failure(call)).message;
const FIXTURES = resolve('test/fixtures/ingest');
const BAD = resolve('test/fixtures/ingest-bad');
const MAX = 5 * 1024 * 1024;

for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`file and URL ingestion on ${title(backend)}`, () => {
    let t: TestApp;
    let base: string;
    let root: string;
    let outside: string;
    let server: Server;
    let port: number;
    const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);
    const ingest = async (options: Partial<FileIngestOptions> & { collection: string }) =>
      ingestFiles((await t.app.services()).engines.rag, { paths: [join(root, 'docs')], maxFileBytes: MAX, ...options });

    beforeAll(async () => {
      base = mkdtempSync(join(tmpdir(), 'rag-files-'));
      root = join(base, 'root');
      outside = join(base, 'outside');
      mkdirSync(outside, { recursive: true });
      cpSync(FIXTURES, join(root, 'docs'), { recursive: true });
      writeFileSync(join(outside, 'secret.md'), '# Secret\n\nThe vault code is 1234.');
      server = createServer((req, res) => {
        if (req.url === '/page.html') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html><title>Tide Table</title><body><nav>menu</nav><main><p>High tide at the pier is at 06:40.</p></main></body></html>');
        else if (req.url === '/image.png') res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50]));
        else if (req.url === '/redirect') res.writeHead(302, { location: 'http://evil.example/' }).end();
        else res.writeHead(404).end();
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      port = (server.address() as AddressInfo).port;
      t = await startTestApp(backend, {
        env: { RAG_INGEST_ROOTS: root, RAG_INGEST_URL_HOSTS: '127.0.0.1,localhost', RAG_INGEST_URL_ALLOW_CIDRS: '' },
      });
    });
    afterAll(async () => {
      await t?.close();
      server?.close();
      rmSync(base, { recursive: true, force: true });
    });

    it('ingests nested markdown, text, HTML, PDF and DOCX with ids relative to the folder, file URIs and metadata', async () => {
      const summary = await ingest({ collection: 'files' });
      expect(summary).toMatchObject({ ingested: 7, unchanged: 0, failed: [], removed: 0 });
      expect(summary.skipped).toEqual([{ path: join(root, 'docs', 'assets', 'logo.png'), reason: 'binary content (NUL bytes)' }]);
      const rag = (await t.app.services()).engines.rag;
      const pdf = await rag.document('files', 'reports/annual-report.pdf');
      expect(pdf).toMatchObject({ title: 'Annual Report 2025', uri: `file://${join(root, 'docs', 'reports', 'annual-report.pdf')}`, mimeType: 'text/plain' });
      expect(pdf.metadata).toMatchObject({ path: join(root, 'docs', 'reports', 'annual-report.pdf'), mediaType: 'application/pdf', size: expect.any(Number), mtime: expect.any(String), title: 'Annual Report 2025' });
      expect((await rag.document('files', 'guides/advanced/tuning.md')).title).toBe('Tuning the fog horn');
      expect((await rag.document('files', 'reports/memo.docx')).text).toContain('# Travel Policy Memo');
      expect((await rag.document('files', 'notes/keeper.conf')).metadata).toMatchObject({ mediaType: 'text/plain' });
      // HTML: the main text, without script, style, navigation, header or footer.
      const html = await rag.document('files', 'site/index.html');
      expect(html.title).toBe('Harbour Office');
      expect(html.text).toContain('mooring permits & pilotage certificates');
      expect(html.text).toContain('- Permits cost 40 euros per week.');
      for (const noise of ['analytics-snippet', 'navy', 'Site menu', 'Welcome banner', 'Copyright footer']) expect(html.text).not.toContain(noise);
    });

    it('cites the PDF page a hit comes from', async () => {
      const { hits } = await call(ragQuery, { collection: 'files', query: 'lighthouse restoration fund', mode: 'fulltext', topK: 1 });
      expect(hits[0]!.citation).toMatchObject({ documentId: 'reports/annual-report.pdf', page: 3 });
      const revenue = await call(ragQuery, { collection: 'files', query: 'revenue northern region', mode: 'fulltext', topK: 1 });
      expect(revenue.hits[0]!.citation.page).toBe(1);
      const markdown = await call(ragQuery, { collection: 'files', query: 'fog horn compressor', mode: 'fulltext', topK: 1 });
      expect(markdown.hits[0]!.citation).not.toHaveProperty('page');
    });

    it('skips unchanged files, re-reads touched ones without re-indexing, replaces changed ones and prunes deleted ones', async () => {
      const again = await ingest({ collection: 'files' });
      expect(again).toMatchObject({ ingested: 0, unchanged: 7, removed: 0 });

      const todo = join(root, 'docs', 'notes', 'todo.txt');
      const future = new Date(Date.now() + 60_000);
      utimesSync(todo, future, future);
      appendFileSync(join(root, 'docs', 'guides', 'getting-started.md'), '\nLog the ferry departures at dawn.\n');
      rmSync(join(root, 'docs', 'site'), { recursive: true });
      const changed = await ingest({ collection: 'files' });
      expect(changed).toMatchObject({ ingested: 1, unchanged: 5, removed: 0 });
      const rag = (await t.app.services()).engines.rag;
      expect((await rag.document('files', 'notes/todo.txt')).metadata).toMatchObject({ mtime: new Date(statSync(todo).mtimeMs).toISOString() });
      const { hits } = await call(ragQuery, { collection: 'files', query: 'ferry departures dawn', mode: 'fulltext', topK: 5 });
      expect(hits.filter((h) => h.documentId === 'guides/getting-started.md')).toHaveLength(1);
      // The touched file's new mtime was recorded: the next run does not read it.
      expect(await ingest({ collection: 'files' })).toMatchObject({ ingested: 0, unchanged: 6 });

      const pruned = await ingest({ collection: 'files', prune: true });
      expect(pruned).toMatchObject({ removed: 1, ingested: 0 });
      await expect(rag.document('files', 'site/index.html')).rejects.toThrow(/no document/);
    });

    it('honours --include and --exclude', async () => {
      const summary = await ingest({ collection: 'filtered', include: ['*.md', 'reports/*.pdf'], exclude: ['advanced'] });
      expect(summary).toMatchObject({ ingested: 2, skipped: [], failed: [] });
      const rag = (await t.app.services()).engines.rag;
      expect(await rag.documentIds('filtered', '')).toEqual(['guides/getting-started.md', 'reports/annual-report.pdf']);
    });

    it('reports corrupt and encrypted PDFs and oversized files per file, and ingests the rest', async () => {
      const bad = join(base, 'bad');
      cpSync(BAD, bad, { recursive: true });
      writeFileSync(join(bad, 'fine.md'), '# Fine\n\nThis one is readable.');
      writeFileSync(join(bad, 'huge.txt'), 'x'.repeat(2048));
      const summary = await ingestFiles((await t.app.services()).engines.rag, { collection: 'bad', paths: [bad], maxFileBytes: 1024 });
      expect(summary.ingested).toBe(1);
      expect(summary.failed).toEqual([
        { path: join(bad, 'corrupt.pdf'), reason: expect.stringMatching(/not a readable PDF .* damaged or cut short/) },
        { path: join(bad, 'encrypted.pdf'), reason: expect.stringMatching(/encrypted \(password-protected\)/) },
        { path: join(bad, 'huge.txt'), reason: expect.stringMatching(/over the 0.0 MiB limit \(RAG_engine.settings.maxDocumentBytes\)/) },
      ]);
      expect(await (await t.app.services()).engines.rag.documentIds('bad', '')).toEqual(['fine.md']);
    });

    it('stops when cancelled, leaving what it wrote whole, and a re-run finishes the rest', async () => {
      const many = join(base, 'many');
      mkdirSync(many);
      for (let i = 0; i < 400; i++) writeFileSync(join(many, `note-${String(i).padStart(3, '0')}.md`), `# Note ${i}\n\nTide gauge reading number ${i}.`);
      const rag = (await t.app.services()).engines.rag;
      const controller = new AbortController();
      const stopped = await ingestFiles(rag, {
        collection: 'many',
        paths: [many],
        maxFileBytes: MAX,
        signal: controller.signal,
        progress: (p) => {
          if (p.phase === 'ingesting' && p.filesDone > 0) controller.abort();
        },
      });
      expect(stopped.ingested).toBeGreaterThan(0);
      expect(stopped.ingested).toBeLessThan(400);
      expect(stopped.failed).toEqual([]);
      const collection = (await rag.collections()).find((c) => c.name === 'many')!;
      expect(collection.documents).toBe(stopped.ingested);
      const finished = await ingestFiles(rag, { collection: 'many', paths: [many], maxFileBytes: MAX });
      expect(finished).toMatchObject({ ingested: 400 - stopped.ingested, unchanged: stopped.ingested, failed: [] });
    });

    it.skipIf(process.getuid?.() === 0)('reports a file it may not read as a per-file failure', async () => {
      const dir = join(base, 'locked');
      mkdirSync(dir);
      writeFileSync(join(dir, 'open.md'), '# Open');
      writeFileSync(join(dir, 'closed.md'), '# Closed');
      chmodSync(join(dir, 'closed.md'), 0o000);
      const summary = await ingestFiles((await t.app.services()).engines.rag, { collection: 'locked', paths: [dir], maxFileBytes: MAX });
      expect(summary.ingested).toBe(1);
      expect(summary.failed).toEqual([{ path: join(dir, 'closed.md'), reason: expect.stringMatching(/permission denied/) }]);
    });

    it('rag_ingest reads a folder under RAG_INGEST_ROOTS', async () => {
      const result = await call(ragIngest, { collection: 'by-tool', sources: [{ path: join(root, 'docs', 'reports') }] });
      expect(result).toMatchObject({ ingested: 2, skipped: 0 });
      const { hits } = await call(ragQuery, { collection: 'by-tool', query: 'sleeper cabin night train', mode: 'fulltext', topK: 1 });
      expect(hits[0]!.documentId).toBe('memo.docx');
      expect(await call(ragIngest, { collection: 'by-tool', sources: [{ path: join(root, 'docs', 'reports') }] })).toMatchObject({ ingested: 0, skipped: 2 });
    });

    it('rag_ingest refuses paths outside RAG_INGEST_ROOTS, with "..", and symbolic links that lead out', async () => {
      expect(await refusal(call(ragIngest, { collection: 'x', sources: [{ path: outside }] }))).toMatch(/outside RAG_INGEST_ROOTS/);
      expect(await refusal(call(ragIngest, { collection: 'x', sources: [{ path: `${root}/docs/../../outside` }] }))).toMatch(/contains "\.\."/);
      expect(await refusal(call(ragIngest, { collection: 'x', sources: [{ path: 'docs' }] }))).toMatch(/not absolute/);
      symlinkSync(outside, join(root, 'escape'));
      expect(await refusal(call(ragIngest, { collection: 'x', sources: [{ path: join(root, 'escape') }] }))).toMatch(/leads outside RAG_INGEST_ROOTS \(.*\) through a symbolic link/);
      // A link inside a walked folder that points out is a per-file failure; the rest is read.
      const mixed = join(root, 'mixed');
      mkdirSync(mixed);
      writeFileSync(join(mixed, 'inside.md'), '# Inside\n\nHarbour lights.');
      symlinkSync(join(outside, 'secret.md'), join(mixed, 'secret.md'));
      const result = await call(ragIngest, { collection: 'mixed', sources: [{ path: mixed }] });
      expect(result).toMatchObject({ ingested: 1, errors: [{ id: join(mixed, 'secret.md'), message: 'symbolic link leads outside RAG_INGEST_ROOTS' }] });
    });

    it('rag_ingest refuses URLs on hosts not listed, and allowed hosts that resolve to private addresses', async () => {
      expect(await refusal(call(ragIngest, { collection: 'web', sources: [{ url: 'https://example.org/doc' }] }))).toMatch(/host "example.org" is not in RAG_INGEST_URL_HOSTS/);
      expect(await refusal(call(ragIngest, { collection: 'web', sources: [{ url: 'file:///etc/passwd' }] }))).toMatch(/file: URLs are not fetched/);
      const result = await call(ragIngest, { collection: 'web', sources: [{ url: `http://localhost:${port}/page.html` }, { url: `http://127.0.0.1:${port}/page.html` }] });
      expect(result.ingested).toBe(0);
      expect(result.errors.map((e) => e.message)).toEqual([
        expect.stringMatching(/"localhost" resolves to (127\.0\.0\.1|::1), in (127\.0\.0\.0\/8|::1\/128) \(loopback\), which ingestion may not reach; RAG_INGEST_URL_ALLOW_CIDRS/),
        expect.stringMatching(/"127\.0\.0\.1" resolves to 127\.0\.0\.1, in 127\.0\.0\.0\/8 \(loopback\)/),
      ]);
    });

    it('rag_ingest refuses any path when RAG_INGEST_ROOTS is not set', async () => {
      const bare = await startTestApp(backend, { env: {} });
      try {
        expect(await refusal(bare.app.invoke(ragIngest, { collection: 'x', sources: [{ path: root }] }, ADMIN))).toMatch(/set RAG_INGEST_ROOTS/);
        expect(await refusal(bare.app.invoke(ragIngest, { collection: 'x', sources: [{ url: 'https://example.org/' }] }, ADMIN))).toMatch(/set RAG_INGEST_URL_HOSTS/);
      } finally {
        await bare.close();
      }
    });

    it('rag_ingest fetches allowed URLs within the content-type limits when the address range is allowed', async () => {
      const open = await startTestApp(backend, { env: { RAG_INGEST_URL_HOSTS: '127.0.0.1', RAG_INGEST_URL_ALLOW_CIDRS: '127.0.0.1/32' } });
      try {
        const call2 = <O extends AnyOperation>(op: O, args: unknown) => open.app.invoke(op, args, ADMIN);
        const page = `http://127.0.0.1:${port}/page.html`;
        const result = await call2(ragIngest, { collection: 'web', sources: [{ url: page }, { url: `http://127.0.0.1:${port}/image.png` }, { url: `http://127.0.0.1:${port}/redirect` }] });
        expect(result.ingested).toBe(1);
        expect(result.errors).toEqual([
          { id: `http://127.0.0.1:${port}/image.png`, message: expect.stringMatching(/content type "image\/png" is not ingested/) },
          { id: `http://127.0.0.1:${port}/redirect`, message: expect.stringMatching(/host "evil.example" is not in RAG_INGEST_URL_HOSTS/) },
        ]);
        const { hits } = await call2(ragQuery, { collection: 'web', query: 'high tide pier', mode: 'fulltext', topK: 1 });
        expect(hits[0]!.citation).toMatchObject({ documentId: page, title: 'Tide Table', uri: page });
        expect(hits[0]!.text).not.toContain('menu');
      } finally {
        await open.close();
      }
    });
  });
}
