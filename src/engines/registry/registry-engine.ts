/*
 * registry engine
 * ===============
 * Immutable, versioned, content-addressed artifacts. A version is written once: publishing
 * the same request again is an idempotent success; different bytes, labels or media type
 * under a stored version are a conflict naming what differs and what is stored. Yanking is
 * soft: the version stays readable but is flagged and never chosen as `latest`.
 *
 * Caching: only content is cached, under its digest (`registry:content:sha256:…`), a key
 * whose value can never change, so a late cache fill writes a value that is still true and
 * nothing ever needs invalidating. What can change (the yanked flag, the aliases pointing at
 * a version) is read from SQL on every read, with the record, in one statement that serves
 * every read asked for in the same turn of the event loop: a read never reports a state older
 * than the last change committed before it was asked for.
 *
 * The one exception is a database this process alone writes (`exclusiveDatabase`: the
 * embedded PGlite, held under the data-dir lock). There every change goes through this
 * engine, so whole records, and the versions aliases resolve to, are also kept in memory and
 * dropped by each change it makes (publish, yank, an alias moved inside promotion's
 * transaction, during which PGlite runs nothing else). A read keeps what it read only when no
 * change began since the read did.
 */
import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import semver from 'semver';
import { conflict, EngineError, invalidInput, notFound } from '../../errors.js';
import { sha256Digest } from '../../platform/digest.js';
import { decodeCursor, keysetPage } from '../../platform/sql/keyset.js';
import type { CachePort } from '../../platform/cache/cache-port.js';
import type { Logger } from '../../platform/log.js';
import type { SqlExecutor, SqlPort } from '../../platform/sql/sql-port.js';
import { isoTimestamp } from '../../platform/sql/sql-port.js';

export interface ArtifactRecord {
  name: string;
  version: string;
  digest: string;
  size: number;
  mediaType: string;
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
  createdAt: string;
  createdBy: string;
  yanked: boolean;
  yankReason: string | null;
}

export interface Artifact extends ArtifactRecord {
  content: Uint8Array;
  /** Environment aliases pointing at this version. */
  aliases: string[];
}

export interface PublishInput {
  name: string;
  version: string;
  content: Uint8Array;
  mediaType?: string;
  labels?: Record<string, string>;
  metadata?: Record<string, unknown>;
}

/**
 * Called before anything is stored, outside the transaction; throws when the content (or its
 * labels) must be refused. It may return a confirmation that the publishing transaction runs
 * before it inserts: it re-reads what the gate decided on (the schema binding) and throws
 * when that changed meanwhile.
 */
export type ContentGate = (mediaType: string, content: Uint8Array, labels: Record<string, string>) => Promise<((tx: SqlExecutor) => Promise<void>) | void>;

export interface RegistrySettings {
  maxContentBytes: number;
  cacheTtlSeconds: number;
  /** No other process writes this database (embedded PGlite): records may be kept in memory. */
  exclusiveDatabase?: boolean;
}

/** Records kept in memory with an exclusive database, at most. */
const MAX_CACHED_RECORDS = 1000;

interface ArtifactRow {
  name: string;
  version: string;
  digest: string;
  size: number;
  media_type: string;
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
  created_at: Date | string;
  created_by: string;
  yanked: boolean;
  yank_reason: string | null;
  seq: number;
  content?: Uint8Array;
  latest?: boolean;
}

/** A version's record as one read returns it: content only when over the cache limit. */
type VersionRow = ArtifactRow & { aliases: string[]; content: Uint8Array | null };
interface VersionKey {
  name: string;
  version: string;
}

const RECORD_COLUMNS = 'name, version, digest, size, media_type, labels, metadata, created_at, created_by, yanked, yank_reason, seq';
/** Version reads joined into one statement at most; more wait for the next. */
const MAX_READS_PER_STATEMENT = 64;
const MAX_VERSION_NUMBER = 2_147_483_647;

/** Highest semver first; a release before the pre-releases of the same numbers. */
const SEMVER_ORDER = 'major desc, minor desc, patch desc, (prerelease is null) desc, prerelease desc';
/** What "latest" means: the highest release; the highest pre-release only when there is no release. */
const latestOrder = (t = '') => `(${t}prerelease is null) desc, ${t}major desc, ${t}minor desc, ${t}patch desc, ${t}prerelease desc`;
/** Versions larger than this are not kept in the cache: they would crowd out everything else. */
const MAX_CACHED_BYTES = 256 * 1024;

/** A kept record is shared by every reader: none may change it. */
function frozen(artifact: Artifact): Readonly<Artifact> {
  Object.freeze(artifact.labels);
  Object.freeze(artifact.metadata);
  Object.freeze(artifact.aliases);
  return Object.freeze(artifact);
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
}

function toRecord(row: ArtifactRow): ArtifactRecord {
  return {
    name: row.name,
    version: row.version,
    digest: row.digest,
    size: row.size,
    mediaType: row.media_type,
    labels: row.labels,
    metadata: row.metadata,
    createdAt: isoTimestamp(row.created_at),
    createdBy: row.created_by,
    yanked: row.yanked,
    yankReason: row.yank_reason,
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function escapeLike(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** A list cursor: the name and seq of the last row. */
const isListKey = (key: unknown): key is [string, number] => Array.isArray(key) && typeof key[0] === 'string' && typeof key[1] === 'number' && Number.isInteger(key[1]);

export class RegistryEngine {
  /** Whole records by name@version; only with an exclusive database. */
  private readonly records?: LRUCache<string, Readonly<Artifact>>;
  /** The version each alias resolved to, by name@alias; only with an exclusive database. */
  private readonly aliasVersions?: LRUCache<string, string>;
  /** Bumped by every change: a read that began before one does not keep what it read. */
  private generation = 0;
  /**
   * Reads of single versions asked for in one turn of the event loop go to SQL as one
   * statement (its rows in request order). Every read in it was asked for before the
   * statement was sent, so none reports a state older than the last change committed
   * before it was asked for; nothing is cached between statements.
   */
  private readonly versionReads = new DataLoader<VersionKey, VersionRow | undefined>((keys) => this.readVersions(keys), {
    cache: false,
    maxBatchSize: MAX_READS_PER_STATEMENT,
    batchScheduleFn: (run) => setImmediate(run),
  });

  constructor(
    private readonly sql: SqlPort,
    private readonly cache: CachePort,
    private readonly gate: ContentGate,
    private readonly settings: RegistrySettings,
    private readonly log: Logger,
  ) {
    if (settings.exclusiveDatabase) {
      this.records = new LRUCache({ max: MAX_CACHED_RECORDS });
      this.aliasVersions = new LRUCache({ max: MAX_CACHED_RECORDS });
    }
  }

  /** A change is being made: no record or alias read before it may be served or kept. */
  private changing(): void {
    this.generation++;
    this.records?.clear();
    this.aliasVersions?.clear();
  }

  /** Runs a change with `changing()` before and after it: a read that overlapped it keeps nothing. */
  private async change<T>(work: () => Promise<T>): Promise<T> {
    this.changing();
    try {
      return await work();
    } finally {
      this.changing();
    }
  }

  /** Content is immutable under its digest: the key is the version of the value. */
  private contentKey(digest: string) {
    return `registry:content:${digest}`;
  }

  async publish(input: PublishInput, principal: string): Promise<ArtifactRecord & { created: boolean }> {
    const parsed = semver.parse(input.version);
    if (!parsed || parsed.raw !== input.version) {
      throw invalidInput(`version: expected a semantic version like "1.2.0", got ${JSON.stringify(input.version)}`);
    }
    // Version numbers are stored as 32-bit integers so that ordering is numeric in SQL.
    const tooBig = (['major', 'minor', 'patch'] as const).find((part) => parsed[part] > MAX_VERSION_NUMBER);
    if (tooBig) {
      throw invalidInput(`version: the ${tooBig} number of ${JSON.stringify(input.version)} is over ${MAX_VERSION_NUMBER}; use smaller version numbers`);
    }
    if (input.content.byteLength > this.settings.maxContentBytes) {
      throw new EngineError(
        'TOO_LARGE',
        `content: ${formatBytes(input.content.byteLength)} is over the limit of ${formatBytes(this.settings.maxContentBytes)} (registry.settings.maxContentBytes in config/engine_map.yaml)`,
      );
    }
    const mediaType = input.mediaType ?? 'application/octet-stream';
    const digest = sha256Digest(input.content);
    const confirm = await this.gate(mediaType, input.content, input.labels ?? {});

    return this.change(() => this.sql.transaction(async (tx) => {
      if (confirm) await confirm(tx);
      const inserted = await tx.query<ArtifactRow>(
        `insert into registry_artifacts
           (name, version, major, minor, patch, prerelease, digest, size, media_type, content, labels, metadata, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         on conflict (name, version) do nothing
         returning ${RECORD_COLUMNS}`,
        [
          input.name,
          input.version,
          parsed.major,
          parsed.minor,
          parsed.patch,
          parsed.prerelease.length > 0 ? parsed.prerelease.join('.') : null,
          digest,
          input.content.byteLength,
          mediaType,
          input.content,
          JSON.stringify(input.labels ?? {}),
          JSON.stringify(input.metadata ?? {}),
          principal,
        ],
      );
      if (inserted.rows[0]) {
        this.log.info({ artifact: `${input.name}@${input.version}`, digest, size: input.content.byteLength, principal }, 'artifact published');
        return { ...toRecord(inserted.rows[0]), created: true };
      }
      const existing = await tx.query<ArtifactRow>(`select ${RECORD_COLUMNS} from registry_artifacts where name = $1 and version = $2`, [input.name, input.version]);
      const row = existing.rows[0]!;
      if (row.digest !== digest) {
        throw conflict(
          `${input.name}@${input.version} already exists with digest ${row.digest} (this content is ${digest}); versions are immutable: publish it as a new version`,
          { existingDigest: row.digest },
        );
      }
      const labels = input.labels ?? {};
      const differences: string[] = [];
      if (row.media_type !== mediaType) differences.push(`mediaType: stored ${JSON.stringify(row.media_type)}, this request ${JSON.stringify(mediaType)}`);
      if (!sameLabels(row.labels, labels)) differences.push(`labels: stored ${JSON.stringify(row.labels)}, this request ${JSON.stringify(labels)}`);
      if (differences.length > 0) {
        throw conflict(
          `${input.name}@${input.version} already exists with the same content (${digest}) but different ${differences.map((d) => d.slice(0, d.indexOf(':'))).join(' and ')} (${differences.join('; ')}); versions are immutable: publish again with the stored values, or publish a new version`,
          { existingDigest: row.digest, stored: { mediaType: row.media_type, labels: row.labels } },
        );
      }
      return { ...toRecord(row), created: false };
    }));
  }

  /**
   * What `memory` keeps under `key` (only with an exclusive database), or else what `read`
   * answers; that is kept, as `toKeep` makes it (undefined: not kept), only when no change
   * began while it was read.
   */
  private async keptOrRead<T extends NonNullable<unknown>>(memory: LRUCache<string, T> | undefined, key: string, read: () => Promise<T>, toKeep: (value: T) => T | undefined = (value) => value): Promise<T> {
    const kept = memory?.get(key);
    if (kept !== undefined) return kept;
    const generation = this.generation;
    const value = await read();
    if (memory && generation === this.generation) {
      const keeping = toKeep(value);
      if (keeping !== undefined) memory.set(key, keeping);
    }
    return value;
  }

  async getVersion(name: string, version: string): Promise<Artifact> {
    return this.keptOrRead(
      this.records,
      `${name}@${version}`,
      async () => {
        const row = await this.versionReads.load({ name, version });
        if (!row) {
          throw notFound(`no artifact ${name}@${version} (registry_list with prefix "${name}" shows its versions)`);
        }
        return { ...toRecord(row), aliases: row.aliases, content: row.content ?? (await this.smallContent(name, version, row.digest)) };
      },
      (artifact) => (artifact.size <= MAX_CACHED_BYTES ? frozen(artifact) : undefined),
    );
  }

  /** The record (with what can change: yanked, aliases) of each `name@version`, from SQL; content over the cache limit comes with it. */
  private async readVersions(keys: readonly VersionKey[]): Promise<(VersionRow | undefined)[]> {
    const { rows } = await this.sql.query<VersionRow & { i: string | number }>(
      `select k.i, ${RECORD_COLUMNS}, case when a.size > $3 then a.content end as content,
         array(select al.alias from registry_aliases al where al.name = a.name and al.version = a.version order by al.alias) as aliases
       from unnest($1::text[], $2::text[]) with ordinality as k(asked_name, asked_version, i)
       join registry_artifacts a on a.name = k.asked_name and a.version = k.asked_version`,
      [keys.map((k) => k.name), keys.map((k) => k.version), MAX_CACHED_BYTES],
      { prepare: 'registry_get_versions' },
    );
    const byIndex = new Map(rows.map((row) => [Number(row.i), row]));
    return keys.map((_, i) => byIndex.get(i + 1));
  }

  private async smallContent(name: string, version: string, digest: string): Promise<Uint8Array> {
    const key = this.contentKey(digest);
    const cached = await this.cache.get(key);
    if (cached !== undefined) return Buffer.from(cached, 'base64');
    const { rows } = await this.sql.query<{ content: Uint8Array }>('select content from registry_artifacts where name = $1 and version = $2', [name, version]);
    const content = rows[0]!.content;
    await this.cache.set(key, Buffer.from(content).toString('base64'), this.settings.cacheTtlSeconds);
    return content;
  }

  /** `latest` is the highest version not yanked (releases win over pre-releases); other aliases are set by promotion. */
  async resolveAlias(name: string, alias: string): Promise<string> {
    return this.keptOrRead(this.aliasVersions, `${name}@${alias}`, async () => {
      const { rows } =
        alias === 'latest'
          ? await this.sql.query<{ version: string }>(`select version from registry_artifacts where name = $1 and not yanked order by ${latestOrder()} limit 1`, [name])
          : await this.sql.query<{ version: string }>('select version from registry_aliases where name = $1 and alias = $2', [name, alias]);
      if (!rows[0]) {
        throw notFound(
          alias === 'latest'
            ? `${name} has no published version that is not yanked (registry_list with prefix "${name}" and includeYanked shows all)`
            : `${name} has no alias "${alias}" (aliases are set when a version is promoted to an environment; "latest" always exists)`,
        );
      }
      return rows[0].version;
    });
  }

  async list(options: { prefix?: string; label?: string; includeYanked?: boolean; cursor?: string; limit: number }): Promise<{ artifacts: (ArtifactRecord & { latest: boolean })[]; nextCursor?: string }> {
    const cursor = options.cursor ? decodeCursor(options.cursor, isListKey) : undefined;
    let labelKey: string | null = null;
    let labelMatch: string | null = null;
    if (options.label) {
      const eq = options.label.indexOf('=');
      if (eq === -1) labelKey = options.label;
      else labelMatch = JSON.stringify({ [options.label.slice(0, eq)]: options.label.slice(eq + 1) });
    }
    const { rows } = await this.sql.query<ArtifactRow>(
      `with page as (
         select ${RECORD_COLUMNS} from registry_artifacts a
         where ($1::text is null or a.name like $1 escape '\\')
           and ($2::text is null or a.labels ? $2)
           and ($3::jsonb is null or a.labels @> $3::jsonb)
           and ($4::boolean or not a.yanked)
           and ($5::text is null or a.name > $5 or (a.name = $5 and a.seq < $6))
         order by a.name asc, a.seq desc
         limit $7
       )
       select page.*, (page.version = l.version) as latest
       from page left join lateral (
         select b.version from registry_artifacts b where b.name = page.name and not b.yanked order by ${latestOrder('b.')} limit 1
       ) l on true
       order by page.name asc, page.seq desc`,
      [
        options.prefix ? `${escapeLike(options.prefix)}%` : null,
        labelKey,
        labelMatch,
        options.includeYanked ?? false,
        cursor?.[0] ?? null,
        cursor?.[1] ?? 0,
        options.limit + 1,
      ],
    );
    const { page, nextCursor } = keysetPage(rows, options.limit, (row) => [row.name, row.seq]);
    return {
      artifacts: page.map((row) => ({ ...toRecord(row), latest: row.latest === true })),
      ...(nextCursor ? { nextCursor } : {}),
    };
  }

  async yank(name: string, version: string, reason: string, principal: string): Promise<ArtifactRecord & { yankedAt: string }> {
    const { rows } = await this.change(() => this.sql.query<ArtifactRow & { yanked_at: Date }>(
      `update registry_artifacts
         set yanked = true, yank_reason = coalesce(yank_reason, $3), yanked_at = coalesce(yanked_at, now())
       where name = $1 and version = $2
       returning ${RECORD_COLUMNS}, yanked_at`,
      [name, version, reason],
    ));
    const row = rows[0];
    if (!row) throw notFound(`no artifact ${name}@${version} to yank (registry_list with prefix "${name}" shows its versions)`);
    this.log.info({ artifact: `${name}@${version}`, reason, principal }, 'artifact yanked');
    return { ...toRecord(row), yankedAt: isoTimestamp(row.yanked_at) };
  }

  /**
   * Points an environment alias at a version inside the caller's transaction (promotion owns
   * the transaction; the registry owns the alias table). Returns the version it pointed at.
   */
  async setAlias(tx: SqlExecutor, name: string, alias: string, version: string, principal: string): Promise<string | null> {
    // Inside promotion's transaction, which holds the embedded database until it ends: a read
    // that starts after this runs after the commit.
    this.changing();
    const before = await tx.query<{ version: string }>('select version from registry_aliases where name = $1 and alias = $2 for update', [name, alias]);
    await tx.query(
      `insert into registry_aliases (name, alias, version, updated_by) values ($1, $2, $3, $4)
       on conflict (name, alias) do update set version = excluded.version, updated_at = now(), updated_by = excluded.updated_by`,
      [name, alias, version, principal],
    );
    this.log.info({ artifact: `${name}@${version}`, alias, previous: before.rows[0]?.version ?? null, principal }, 'alias moved');
    return before.rows[0]?.version ?? null;
  }

  /**
   * The yanked state of a version, read inside the caller's transaction and share-locked until
   * it ends, so a yank cannot commit between this check and the change the caller makes.
   * Undefined when there is no such version.
   */
  async lockedYankState(tx: SqlExecutor, name: string, version: string): Promise<{ yanked: boolean; yankReason: string | null } | undefined> {
    const { rows } = await tx.query<{ yanked: boolean; yank_reason: string | null }>(
      'select yanked, yank_reason from registry_artifacts where name = $1 and version = $2 for share',
      [name, version],
    );
    return rows[0] && { yanked: rows[0].yanked, yankReason: rows[0].yank_reason };
  }

  /** Names starting with prefix, for completions. */
  async names(prefix: string, limit = 50): Promise<string[]> {
    const { rows } = await this.sql.query<{ name: string }>(`select distinct name from registry_artifacts where name like $1 escape '\\' order by name limit $2`, [`${escapeLike(prefix)}%`, limit]);
    return rows.map((r) => r.name);
  }

  /** Versions of name starting with prefix, newest first, for completions. */
  async versions(name: string, prefix = '', limit = 50): Promise<string[]> {
    const { rows } = await this.sql.query<{ version: string }>(
      `select version from registry_artifacts where name = $1 and version like $2 escape '\\' order by ${SEMVER_ORDER} limit $3`,
      [name, `${escapeLike(prefix)}%`, limit],
    );
    return rows.map((r) => r.version);
  }
}
