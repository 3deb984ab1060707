/*
 * The audit log fails closed: a call is never acknowledged without its record, a writing
 * call whose intent cannot be written does not run, and a call killed half-way (kill -9 of
 * the server) shows in the chain as interrupted after the restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { governanceAuditVerify } from '../../tools/governance.js';
import { registryGet, registryPublish } from '../../tools/registry.js';
import { ADMIN, startTestApp, type TestApp } from '../helpers/backends.js';
import { startHttpServer } from '../helpers/cli.js';

describe('an audit log that cannot be written', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ name: 'pglite + memory cache' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('fails a read whose record cannot be appended, and does not run a write whose intent cannot be recorded', async () => {
    await t.app.invoke(registryPublish, { name: 'acme/kept', version: '1.0.0', content: 'kept' }, ADMIN);
    const { sql } = await t.app.services();
    await sql.exec('alter table governance_audit_intents rename to governance_audit_intents_gone');
    await expect(t.app.invoke(registryPublish, { name: 'acme/unaudited', version: '1.0.0', content: 'x' }, ADMIN)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('was not run: its audit record could not be written'),
    });
    await sql.exec('alter table governance_audit_intents_gone rename to governance_audit_intents');
    await expect(t.app.invoke(registryGet, { name: 'acme/unaudited', version: '1.0.0' }, ADMIN)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    await sql.exec('alter table governance_audit_head rename to governance_audit_head_gone');
    await expect(t.app.invoke(registryGet, { name: 'acme/kept', version: '1.0.0' }, ADMIN)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('its audit record could not be written'),
    });
    await sql.exec('alter table governance_audit_head_gone rename to governance_audit_head');
    expect(await t.app.invoke(registryGet, { name: 'acme/kept', version: '1.0.0' }, ADMIN)).toMatchObject({ content: 'kept' });
    expect(await t.app.invoke(governanceAuditVerify, {}, ADMIN)).toMatchObject({ ok: true });
  });
});

describe('a call killed with its server', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mcp-level3-audit-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('is recorded as interrupted after the restart, and the chain verifies', async () => {
    const first = await startHttpServer(['--data-dir', dataDir]);
    const client = new Client({ name: 'audit-kill', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(first.url)));
    const documents = Array.from({ length: 600 }, (_, i) => ({ id: `doc-${i}`, text: `Document ${i} talks about granite, basalt and slate number ${i}. `.repeat(20) }));
    const killed = new Promise<void>((resolve) => {
      client
        .callTool({ name: 'rag_ingest', arguments: { collection: 'killed', documents } }, {
          onprogress: () => {
            first.process.kill('SIGKILL');
            resolve();
          },
        })
        .catch(() => resolve());
    });
    await killed;
    await new Promise((resolve) => first.process.once('exit', resolve));
    await client.close().catch(() => undefined);

    const second = await startHttpServer(['--data-dir', dataDir]);
    try {
      const reader = new Client({ name: 'audit-read', version: '1.0.0' });
      await reader.connect(new StreamableHTTPClientTransport(new URL(second.url)));
      const page = await reader.callTool({ name: 'governance_audit_query', arguments: { operation: 'rag_ingest', limit: 10 } });
      const records = (page.structuredContent as { records: { outcome: string; errorCode: string | null }[] }).records;
      expect(records).toContainEqual(expect.objectContaining({ outcome: 'interrupted', errorCode: 'INTERRUPTED' }));
      const verified = await reader.callTool({ name: 'governance_audit_verify', arguments: {} });
      expect(verified.structuredContent).toMatchObject({ ok: true });
      await reader.close();
    } finally {
      await second.stop();
    }
  });
});

