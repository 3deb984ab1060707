import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineError } from '../../src/errors.js';
import type { AnyOperation } from '../../src/surface/operation.js';
import { registryGet, registryList, registryPublish, registryYank } from '../../tools/registry.js';
import { validationRegisterSchema } from '../../tools/validation.js';
import { failure } from '../helpers/failures.js';
import { ADMIN, appBackends, startTestApp, title, type TestApp } from '../helpers/backends.js';

const sha = (text: string | Buffer) => `sha256:${createHash('sha256').update(text).digest('hex')}`;


for (const backend of appBackends()) {
  describe.skipIf(backend.skip)(`registry operations on ${title(backend)}`, () => {
    let t: TestApp;
    const call = <O extends AnyOperation>(op: O, args: unknown) => t.app.invoke(op, args, ADMIN);

    beforeAll(async () => {
      t = await startTestApp(backend);
    });
    afterAll(async () => t?.close());

    it('publishes a version and returns the sha256 digest of the content bytes', async () => {
      const out = await call(registryPublish, { name: 'acme/model', version: '1.0.0', content: 'weights v1', labels: { team: 'ml' } });
      expect(out).toMatchObject({ name: 'acme/model', version: '1.0.0', digest: sha('weights v1'), size: 10, mediaType: 'text/plain', created: true });
      expect(Date.parse(out.createdAt as string)).not.toBeNaN();
    });

    it('treats re-publishing the same content and labels as an idempotent success', async () => {
      const again = await call(registryPublish, { name: 'acme/model', version: '1.0.0', content: 'weights v1', labels: { team: 'ml' } });
      expect(again).toMatchObject({ digest: sha('weights v1'), labels: { team: 'ml' }, created: false });
    });

    it('refuses the same content with other labels or media type, naming what differs and what is stored', async () => {
      const labels = await failure(call(registryPublish, { name: 'acme/model', version: '1.0.0', content: 'weights v1', labels: { team: 'ops' } }));
      expect(labels.code).toBe('CONFLICT');
      expect(labels.message).toContain('but different labels (labels: stored {"team":"ml"}, this request {"team":"ops"})');
      expect(labels.details).toMatchObject({ stored: { mediaType: 'text/plain', labels: { team: 'ml' } } });
      const none = await failure(call(registryPublish, { name: 'acme/model', version: '1.0.0', content: 'weights v1' }));
      expect(none.message).toContain('labels: stored {"team":"ml"}, this request {}');
      const both = await failure(call(registryPublish, { name: 'acme/model', version: '1.0.0', content: 'weights v1', mediaType: 'application/json' }));
      expect(both.message).toContain('but different mediaType and labels (mediaType: stored "text/plain", this request "application/json"; labels:');
      const stored = await call(registryGet, { name: 'acme/model', version: '1.0.0', includeContent: false });
      expect(stored).toMatchObject({ mediaType: 'text/plain', labels: { team: 'ml' } });
    });

    it('refuses different content under an existing version and names the stored digest', async () => {
      const error = await failure(call(registryPublish, { name: 'acme/model', version: '1.0.0', content: 'tampered' }));
      expect(error.code).toBe('CONFLICT');
      expect(error.message).toContain(sha('weights v1'));
      const stored = await call(registryGet, { name: 'acme/model', version: '1.0.0' });
      expect(stored.content).toBe('weights v1');
    });

    it('stores binary content given as base64 and returns it as base64', async () => {
      const bytes = Buffer.from([0, 1, 2, 250, 255]);
      const out = await call(registryPublish, { name: 'acme/blob', version: '0.1.0', content: bytes.toString('base64'), encoding: 'base64' });
      expect(out).toMatchObject({ digest: sha(bytes), size: 5, mediaType: 'application/octet-stream' });
      const got = await call(registryGet, { name: 'acme/blob', version: '0.1.0' });
      expect(got).toMatchObject({ encoding: 'base64', content: bytes.toString('base64') });
    });

    it('rejects invalid base64, names and versions with messages that say what to change', async () => {
      const bad64 = await failure(call(registryPublish, { name: 'acme/x', version: '1.0.0', content: 'not base64!', encoding: 'base64' }));
      expect(bad64.message).toMatch(/base64/);
      const badName = await failure(call(registryPublish, { name: 'NoNamespace', version: '1.0.0', content: 'x' }));
      expect(badName.code).toBe('INVALID_INPUT');
      expect(badName.message).toMatch(/^name: expected "namespace\/name"/);
      const badVersion = await failure(call(registryPublish, { name: 'acme/x', version: 'v1', content: 'x' }));
      expect(badVersion.message).toBe('version: expected a semantic version like "1.2.0" or "2.0.0-rc.1", got "v1"');
      const hugeVersion = await failure(call(registryPublish, { name: 'acme/x', version: '1.0.2276010015', content: 'x' }));
      expect(hugeVersion.code).toBe('INVALID_INPUT');
      expect(hugeVersion.message).toMatch(/^version: the patch number of "1\.0\.2276010015" is over 2147483647/);
      const page = await call(registryList, { prefix: 'acme/x' });
      expect(page.artifacts).toEqual([]);
    });

    it('refuses content over the configured size limit and stores nothing', async () => {
      const small = await startTestApp(backend, { env: { REGISTRY_MAX_CONTENT_BYTES: '16' } });
      try {
        const error = await failure(small.app.invoke(registryPublish, { name: 'acme/big', version: '1.0.0', content: 'x'.repeat(17) }, ADMIN));
        expect(error.code).toBe('TOO_LARGE');
        expect(error.message).toContain('maxContentBytes');
        expect((await small.app.invoke(registryList, {}, ADMIN)).artifacts).toEqual([]);
      } finally {
        await small.close();
      }
    });

    it('resolves "latest" to the highest release, skipping pre-releases and yanked versions', async () => {
      for (const version of ['1.2.0', '1.10.0', '2.0.0-rc.1', '1.9.0']) {
        await call(registryPublish, { name: 'acme/svc', version, content: `svc ${version}` });
      }
      expect((await call(registryGet, { name: 'acme/svc', alias: 'latest' })).version).toBe('1.10.0');
      await call(registryYank, { name: 'acme/svc', version: '1.10.0', reason: 'broken build' });
      expect((await call(registryGet, { name: 'acme/svc', alias: 'latest' })).version).toBe('1.9.0');
    });

    it('answers "latest" with a version published or yanked since the last read of it', async () => {
      await call(registryPublish, { name: 'acme/moving', version: '1.0.0', content: 'first' });
      for (let i = 0; i < 3; i++) expect((await call(registryGet, { name: 'acme/moving', alias: 'latest' })).version).toBe('1.0.0');
      await call(registryPublish, { name: 'acme/moving', version: '1.1.0', content: 'second' });
      expect((await call(registryGet, { name: 'acme/moving', alias: 'latest' })).version).toBe('1.1.0');
      await call(registryYank, { name: 'acme/moving', version: '1.1.0', reason: 'bad build' });
      expect((await call(registryGet, { name: 'acme/moving', alias: 'latest' })).version).toBe('1.0.0');
    });

    it('keeps a yanked version readable and flagged, and hides it from lists', async () => {
      const got = await call(registryGet, { name: 'acme/svc', version: '1.10.0' });
      expect(got).toMatchObject({ yanked: true, yankReason: 'broken build', content: 'svc 1.10.0' });
      const listed = await call(registryList, { prefix: 'acme/svc' });
      expect(listed.artifacts.map((a) => a.version)).not.toContain('1.10.0');
      const all = await call(registryList, { prefix: 'acme/svc', includeYanked: true });
      const yanked = all.artifacts.find((a) => a.version === '1.10.0');
      expect(yanked).toMatchObject({ yanked: true, latest: false });
      expect(all.artifacts.filter((a) => a.latest).map((a) => a.version)).toEqual(['1.9.0']);
    });

    it('shows a yank on the next read of a version read many times before, and after reads that raced it', async () => {
      await call(registryPublish, { name: 'acme/hot', version: '1.0.0', content: 'hot' });
      for (let i = 0; i < 5; i++) expect(await call(registryGet, { name: 'acme/hot', version: '1.0.0' })).toMatchObject({ yanked: false });
      const racing = Array.from({ length: 20 }, () => call(registryGet, { name: 'acme/hot', version: '1.0.0' }));
      await call(registryYank, { name: 'acme/hot', version: '1.0.0', reason: 'hot fix' });
      await Promise.all(racing);
      for (let i = 0; i < 3; i++) expect(await call(registryGet, { name: 'acme/hot', version: '1.0.0' })).toMatchObject({ yanked: true, yankReason: 'hot fix' });
    });

    it('yanking twice keeps the first reason', async () => {
      const again = await call(registryYank, { name: 'acme/svc', version: '1.10.0', reason: 'second reason' });
      expect(again.yankReason).toBe('broken build');
    });

    it('reports unknown versions and aliases as not found, with a hint', async () => {
      const missing = await failure(call(registryGet, { name: 'acme/svc', version: '9.9.9' }));
      expect(missing.code).toBe('NOT_FOUND');
      expect(missing.message).toContain('registry_list');
      const alias = await failure(call(registryGet, { name: 'acme/svc', alias: 'prod' }));
      expect(alias.code).toBe('NOT_FOUND');
      const both = await failure(call(registryGet, { name: 'acme/svc', version: '1.2.0', alias: 'latest' }));
      expect(both.message).toContain('exactly one of version or alias');
    });

    it('answers reads made together each with its own version, a missing one with its own error', async () => {
      const big = 'x'.repeat(300 * 1024);
      await call(registryPublish, { name: 'acme/many', version: '1.0.0', content: 'one' });
      await call(registryPublish, { name: 'acme/many', version: '2.0.0', content: big });
      await call(registryPublish, { name: 'acme/other', version: '1.0.0', content: 'other' });
      const asked = ['acme/many@1.0.0', 'acme/many@9.0.0', 'acme/many@2.0.0', 'acme/other@1.0.0', 'acme/many@1.0.0'];
      const answers = await Promise.allSettled(asked.map((key) => call(registryGet, { name: key.split('@')[0], version: key.split('@')[1] })));
      expect(answers.map((a) => (a.status === 'fulfilled' ? `${a.value.name}@${a.value.version}:${String(a.value.content).slice(0, 5)}` : (a.reason as EngineError).code))).toEqual([
        'acme/many@1.0.0:one',
        'NOT_FOUND',
        'acme/many@2.0.0:xxxxx',
        'acme/other@1.0.0:other',
        'acme/many@1.0.0:one',
      ]);
      expect(answers[2]).toMatchObject({ value: { size: big.length } });
    });

    it('filters by prefix and label and pages with a cursor without repeats or gaps', async () => {
      for (let i = 0; i < 7; i++) {
        await call(registryPublish, { name: `paged/item-${i % 3}`, version: `1.0.${i}`, content: `p${i}`, labels: { tier: i % 2 ? 'odd' : 'even' } });
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await call(registryList, { prefix: 'paged/', limit: 3, ...(cursor ? { cursor } : {}) });
        seen.push(...page.artifacts.map((a) => `${a.name}@${a.version}`));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(7);
      expect(seen).toHaveLength(7);
      const odd = await call(registryList, { prefix: 'paged/', label: 'tier=odd', limit: 100 });
      expect(odd.artifacts).toHaveLength(3);
      const keyed = await call(registryList, { label: 'team', limit: 100 });
      expect(keyed.artifacts.map((a) => a.name)).toEqual(['acme/model']);
      const badCursor = await failure(call(registryList, { cursor: 'garbage' }));
      expect(badCursor.message).toContain('cursor');
    });

    it('returns metadata only when includeContent is false', async () => {
      const got = await call(registryGet, { name: 'acme/model', version: '1.0.0', includeContent: false });
      expect(got.content).toBeUndefined();
      expect(got.contentUri).toBe('registry://artifacts/acme%2Fmodel/1.0.0');
    });

    it('validates content against a schema bound to its media type and stores nothing when invalid', async () => {
      await call(validationRegisterSchema, {
        id: 'model-card/v1',
        mediaType: 'application/vnd.acme.model-card+json',
        schema: { type: 'object', required: ['name', 'accuracy'], properties: { name: { type: 'string' }, accuracy: { type: 'number', maximum: 1 } } },
      });
      const error = await failure(
        call(registryPublish, { name: 'acme/card', version: '1.0.0', mediaType: 'application/vnd.acme.model-card+json', content: JSON.stringify({ name: 'm', accuracy: 3 }) }),
      );
      expect(error.code).toBe('INVALID_INPUT');
      expect(error.message).toContain('/accuracy');
      expect((await call(registryList, { prefix: 'acme/card' })).artifacts).toEqual([]);

      const notJson = await failure(call(registryPublish, { name: 'acme/card', version: '1.0.0', mediaType: 'application/vnd.acme.model-card+json', content: '{oops' }));
      expect(notJson.message).toMatch(/not valid JSON/);

      const ok = await call(registryPublish, { name: 'acme/card', version: '1.0.0', mediaType: 'application/vnd.acme.model-card+json', content: JSON.stringify({ name: 'm', accuracy: 0.9 }) });
      expect(ok.created).toBe(true);
    });

    it('lets concurrent publishes of one version store exactly one row', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => call(registryPublish, { name: 'race/one', version: '1.0.0', content: i % 2 ? 'a' : 'b' })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const conflicts = results.filter((r) => r.status === 'rejected' && (r.reason as EngineError).code === 'CONFLICT');
      expect(ok.length + conflicts.length).toBe(8);
      const listed = await call(registryList, { prefix: 'race/' });
      expect(listed.artifacts).toHaveLength(1);
      const winner = listed.artifacts[0]!.digest;
      for (const r of ok) expect((r as PromiseFulfilledResult<{ digest: string }>).value.digest).toBe(winner);
    });

    it('refuses an operation when the principal lacks its scope', async () => {
      const error = await failure(t.app.invoke(registryPublish, { name: 'acme/x', version: '1.0.0', content: 'x' }, { principal: { id: 'reader', scopes: ['registry:read'] } }));
      expect(error.code).toBe('FORBIDDEN');
      expect(error.message).toContain('registry:write');
    });
  });
}
