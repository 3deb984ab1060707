import { describe, expect, it } from 'vitest';
import { dagStatus } from '../../tools/dag.js';
import { ragQuery } from '../../tools/rag.js';
import { registryGet } from '../../tools/registry.js';
import { compactText, resultContent, resultText } from '../../src/surface/result-text.js';

describe('the text block of a tool result', () => {
  it('is one line per field and one row per list item, quoting only what needs it', () => {
    expect(compactText({ ok: true, records: 3, note: 'two words', runs: [{ runId: 'r1', status: 'failed', error: null }], tags: ['a', 'b c'], nothing: [] })).toBe(
      ['ok: true', 'records: 3', 'note: two words', 'runs (1):', '- runId=r1 status=failed', 'tags: a, "b c"', 'nothing: none'].join('\n'),
    );
  });

  it('numbers rag_query passages with their citations', () => {
    const text = resultText(ragQuery, {
      hits: [
        { documentId: 'mit', chunkId: 7, text: 'Permission is hereby granted.', score: 0.123456, retrievers: { fulltext: 1 }, citation: { documentId: 'mit', title: 'MIT License', uri: null, start: 0, end: 29 } },
        { documentId: 'zlib', chunkId: 9, text: 'Altered source versions.', score: 0.05, retrievers: { vector: 2 }, citation: { documentId: 'zlib', title: null, uri: 'https://zlib.net', start: 10, end: 34 } },
      ],
      graph: { entities: ['software'], paths: [] },
    });
    expect(text).toBe(
      '[1] mit "MIT License" chars 0-29 score 0.123\nPermission is hereby granted.\n\n[2] zlib https://zlib.net chars 10-34 score 0.05\nAltered source versions.\n\nGraph entities: software',
    );
  });

  it('gives a run status line and one row per node', () => {
    const text = resultText(dagStatus, {
      runId: 'r1',
      workflow: 'demo@1',
      status: 'failed',
      error: '1 node failed',
      nodes: [
        { id: 'ok', status: 'succeeded', attempts: 1, output: { n: 1 } },
        { id: 'bad', status: 'failed', attempts: 3, error: 'service down' },
      ],
    });
    expect(text).toBe('run r1 demo@1: failed\nerror: 1 node failed\nnodes (2):\n- ok succeeded attempts=1 output={"n":1}\n- bad failed attempts=3 error="service down"');
  });

  it('puts registry_get content after its metadata, unescaped', () => {
    const text = resultText(registryGet, {
      name: 'a/b', version: '1.0.0', digest: 'sha256:00', size: 5, mediaType: 'text/plain', createdAt: '2026-01-01T00:00:00Z',
      labels: {}, metadata: {}, createdBy: 'me', yanked: false, yankReason: null, aliases: ['latest'], contentUri: 'registry://artifacts/a%2Fb/1.0.0', encoding: 'utf8', content: 'line1\n"q"',
    });
    expect(text.split('\n')[0]).toMatch(/^a\/b@1\.0\.0 digest=sha256:00 size=5/);
    expect(text.endsWith('content (utf8):\nline1\n"q"')).toBe(true);
  });

  it('links the resources a result names: a run, content left out', () => {
    const run = { runId: 'r1', workflow: 'demo@1', status: 'succeeded', nodes: [] };
    expect(resultContent(dagStatus, run)[1]).toEqual({ type: 'resource_link', uri: 'dag://runs/r1', name: 'run r1', mimeType: 'application/json' });
    const artifact = {
      name: 'a/b', version: '1.0.0', digest: 'sha256:00', size: 5, mediaType: 'text/plain', createdAt: '2026-01-01T00:00:00Z',
      labels: {}, metadata: {}, createdBy: 'me', yanked: false, yankReason: null, aliases: [], contentUri: 'registry://artifacts/a%2Fb/1.0.0',
    };
    expect(resultContent(registryGet, artifact)).toHaveLength(2);
    expect(resultContent(registryGet, { ...artifact, encoding: 'utf8', content: 'x' })).toHaveLength(1);
  });
});
