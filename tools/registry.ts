/*
 * Registry operations: publish, get, list and yank immutable artifacts.
 */
import { z } from 'zod';
import { invalidInput } from '../src/errors.js';
import { encodeContent } from '../src/surface/content-encoding.js';
import { defineOperation } from '../src/surface/operation.js';
import { artifactUri } from '../src/surface/uris.js';
import { artifactName, artifactVersion, isoTime, labels, mediaType } from '../src/surface/fields.js';
import { inline as inlineValue, row } from '../src/surface/result-text.js';

/** Content larger than this is not put inline in a tool result; read the resource instead. */
export const INLINE_CONTENT_LIMIT = 1024 * 1024;

function decodeContent(content: string, encoding: 'utf8' | 'base64'): Uint8Array {
  if (encoding === 'utf8') return Buffer.from(content, 'utf8');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(content) || content.length % 4 !== 0) {
    throw invalidInput('content: encoding is "base64" but content is not valid base64 (standard alphabet, padded with "=")');
  }
  return Buffer.from(content, 'base64');
}

const nameField = artifactName();
const versionField = artifactVersion();

const recordFields = {
  name: z.string().describe('Artifact name, "namespace/name".'),
  version: z.string().describe('Semantic version.'),
  digest: z.string().describe('"sha256:" + hex SHA-256 of the content bytes.'),
  size: z.number().int().describe('Content size in bytes.'),
  mediaType: z.string().describe('Media type of the content.'),
  createdAt: isoTime(),
};

export const registryPublish = defineOperation({
  name: 'registry_publish',
  engine: 'registry',
  title: 'Publish artifact version',
  description:
    'Publish an immutable artifact version. Re-publishing the same content, media type and labels is a no-op; a difference in any of them under an existing version is refused, naming what is stored. If a schema is bound to mediaType, the content must validate first.',
  input: z.object({
    name: nameField,
    version: versionField,
    content: z.string().max(16 * 1024 * 1024).describe('Content: text, or base64 when encoding is "base64".'),
    encoding: z.enum(['utf8', 'base64']).default('utf8').describe('"utf8" (default) for text content, "base64" for binary.'),
    mediaType: mediaType().optional().describe('Media type, e.g. "application/json". Default "text/plain" for utf8, "application/octet-stream" for base64.'),
    labels: labels().optional().describe('Key/value labels for filtering, e.g. {"team": "ml"}.'),
    metadata: z.record(z.string(), z.unknown()).optional().describe('Free-form JSON metadata stored with the version.'),
  }),
  output: z.object({
    ...recordFields,
    labels: z.record(z.string(), z.string()).describe('Labels as stored.'),
    created: z.boolean().describe('false: this exact version already existed (idempotent).'),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  scope: 'registry:write',
  async handler(input, { engines, principal }) {
    const bytes = decodeContent(input.content, input.encoding);
    const published = await engines.registry.publish(
      {
        name: input.name,
        version: input.version,
        content: bytes,
        mediaType: input.mediaType ?? (input.encoding === 'utf8' ? 'text/plain' : 'application/octet-stream'),
        labels: input.labels,
        metadata: input.metadata,
      },
      principal.id,
    );
    return {
      name: published.name,
      version: published.version,
      digest: published.digest,
      size: published.size,
      mediaType: published.mediaType,
      createdAt: published.createdAt,
      labels: published.labels,
      created: published.created,
    };
  },
});

export const registryGet = defineOperation({
  name: 'registry_get',
  engine: 'registry',
  title: 'Get artifact version',
  description: 'Get one artifact version by version or alias ("latest", or an environment such as "prod"): metadata, digest and content.',
  input: z
    .object({
      name: nameField,
      version: versionField.optional().describe('Exact version. Give version or alias, not both.'),
      alias: z.string().min(1).max(64).optional().describe('"latest" (highest version not yanked) or an environment alias such as "staging".'),
      includeContent: z.boolean().default(true).describe('false returns metadata only. Content over 1 MiB is never inline; read contentUri.'),
    })
    .refine((v) => (v.version === undefined) !== (v.alias === undefined), { error: 'give exactly one of version or alias (e.g. alias "latest")' }),
  output: z.object({
    ...recordFields,
    labels: z.record(z.string(), z.string()).describe('Labels.'),
    metadata: z.record(z.string(), z.unknown()).describe('Metadata.'),
    createdBy: z.string().describe('Principal that published it.'),
    yanked: z.boolean().describe('true when yanked: still readable, never "latest".'),
    yankReason: z.string().nullable().describe('Why it was yanked.'),
    aliases: z.array(z.string()).describe('Aliases pointing at this version: environments, and "latest" when asked for by it.'),
    contentUri: z.string().describe('Resource URI of the content (resources/read).'),
    encoding: z.enum(['utf8', 'base64']).optional().describe('How content is encoded; absent when content is not inline.'),
    content: z.string().optional().describe('The content, when inline.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'registry:read',
  async handler(input, { engines }) {
    const version = input.version ?? (await engines.registry.resolveAlias(input.name, input.alias!));
    const artifact = await engines.registry.getVersion(input.name, version);
    const { content, ...record } = artifact;
    const inline = input.includeContent && artifact.size <= INLINE_CONTENT_LIMIT;
    // "latest" is computed, not stored: asked for by it, the version says so.
    const aliases = input.alias === 'latest' && !record.aliases.includes('latest') ? ['latest', ...record.aliases] : record.aliases;
    return {
      ...record,
      aliases,
      contentUri: artifactUri(artifact.name, artifact.version),
      ...(inline ? encodeContent(artifact.mediaType, content) : {}),
    };
  },
  // Metadata on one line, then the content as it is (not escaped inside JSON).
  summarize: ({ content, encoding, contentUri, name, version, ...rest }) => {
    const head = `${name}@${version} ${row(rest)} contentUri=${inlineValue(contentUri)}`;
    return content === undefined ? `${head}\n(content not inline: resources/read ${contentUri})` : `${head}\ncontent (${encoding}):\n${content}`;
  },  // Content left out of the result (over 1 MiB, or includeContent false) is a link to read.
  links: (artifact) => (artifact.content === undefined ? [{ uri: artifact.contentUri, name: `${artifact.name}@${artifact.version}`, mimeType: artifact.mediaType }] : []),
});

export const registryList = defineOperation({
  name: 'registry_list',
  engine: 'registry',
  title: 'List artifact versions',
  description: 'List artifact versions, by name then newest first, paginated. Yanked versions are left out unless includeYanked.',
  input: z.object({
    prefix: z.string().max(128).optional().describe('Only names starting with this, e.g. "acme/".'),
    label: z.string().max(320).optional().describe('Only versions with this label: "key" or "key=value".'),
    includeYanked: z.boolean().default(false).describe('Include yanked versions.'),
    cursor: z.string().max(1024).optional().describe('nextCursor from the previous page.'),
    limit: z.number().int().min(1).max(100).default(20).describe('Page size, 1-100 (default 20).'),
  }),
  output: z.object({
    artifacts: z.array(
      z.object({
        ...recordFields,
        labels: z.record(z.string(), z.string()).describe('Labels.'),
        yanked: z.boolean().describe('Yanked versions are never latest.'),
        latest: z.boolean().describe('true for the version the alias "latest" resolves to.'),
      }),
    ).describe('Versions on this page.'),
    nextCursor: z.string().optional().describe('Pass as cursor for the next page; absent on the last page.'),
  }),
  annotations: { readOnlyHint: true, idempotentHint: true },
  scope: 'registry:read',
  async handler(input, { engines }) {
    const page = await engines.registry.list(input);
    return {
      artifacts: page.artifacts.map((a) => ({
        name: a.name,
        version: a.version,
        digest: a.digest,
        size: a.size,
        mediaType: a.mediaType,
        createdAt: a.createdAt,
        labels: a.labels,
        yanked: a.yanked,
        latest: a.latest,
      })),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  },
});

export const registryYank = defineOperation({
  name: 'registry_yank',
  engine: 'registry',
  title: 'Yank artifact version',
  description: 'Flag a version as yanked (soft delete): it stays readable by exact version but is never "latest" and is hidden from lists.',
  input: z.object({
    name: nameField,
    version: versionField,
    reason: z.string().min(1).max(500).describe('Why, e.g. "CVE-2026-1234 in dependency".'),
  }),
  output: z.object({
    name: z.string().describe('Artifact name.'),
    version: z.string().describe('Yanked version.'),
    yanked: z.literal(true).describe('Always true.'),
    yankReason: z.string().describe('Reason recorded at the first yank.'),
    yankedAt: isoTime(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true },
  scope: 'registry:write',
  async handler(input, { engines, principal }) {
    const yanked = await engines.registry.yank(input.name, input.version, input.reason, principal.id);
    return { name: yanked.name, version: yanked.version, yanked: true as const, yankReason: yanked.yankReason ?? input.reason, yankedAt: yanked.yankedAt };
  },
});

export const REGISTRY_OPERATIONS = [registryPublish, registryGet, registryList, registryYank];
