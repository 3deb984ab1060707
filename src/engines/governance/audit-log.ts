/*
 * governance/audit-log
 * ====================
 * The append-only, hash-chained record of every operation call. Each record's hash is
 * SHA-256 over the previous record's hash and the record's own fields, so changing,
 * removing or reordering any stored record breaks the chain from that record on, and
 * verify() names the first one that no longer matches.
 *
 * Appends serialize on the single row of governance_audit_head (select ... for update):
 * replicas sharing one PostgreSQL, and concurrent calls in one process, extend one chain.
 * PGlite has one connection, so there the transaction alone serializes them.
 *
 * A call that writes leaves an intent (governance_audit_intents) before its handler runs;
 * its outcome record removes the intent in the same transaction. An intent whose process
 * died (its instance stopped beating) becomes an `interrupted` record, so a call killed
 * half-way still shows in the chain.
 */
import { randomUUID } from 'node:crypto';
import { sha256Hex } from '../../platform/digest.js';
import { DEFAULT_REDACT, fieldMatcher, REDACTED } from '../../platform/redact.js';
import { decodeCursor, isSeq, keysetPage } from '../../platform/sql/keyset.js';
import type { SqlExecutor, SqlPort } from '../../platform/sql/sql-port.js';
import { isoTimestamp } from '../../platform/sql/sql-port.js';

export type AuditLevel = 'none' | 'basic' | 'full';

/** Which MCP surface (or API) a call came through; `tool` covers REST and JSON-RPC too. */
export type AuditSurface = 'tool' | 'resource' | 'prompt' | 'completion' | 'subscription';

export interface AuditEntry {
  principal: string;
  /** The API key's name or the token's subject, so an auditor reads who, not only a key id. */
  principalName?: string;
  operation: string;
  surface?: AuditSurface;
  /** The resource URI or prompt name of a non-tool call. */
  resource?: string;
  outcome: 'ok' | 'error' | 'denied' | 'interrupted';
  errorCode?: string;
  durationMs: number;
  traceId?: string;
  arguments: unknown;
}

export interface AuditRecord {
  seq: number;
  at: string;
  principal: string;
  principalName: string | null;
  operation: string;
  surface: string;
  resource: string | null;
  outcome: string;
  errorCode: string | null;
  durationMs: number;
  traceId: string | null;
  /** JSON text of the recorded arguments, or null at auditLevel none. */
  arguments: string | null;
  prevHash: string;
  hash: string;
}

interface AuditRow {
  seq: string | number;
  at: Date | string;
  principal: string;
  principal_name: string | null;
  operation: string;
  surface: string;
  resource: string | null;
  outcome: string;
  error_code: string | null;
  duration_ms: number;
  trace_id: string | null;
  arguments: string | null;
  prev_hash: string;
  hash: string;
}

const DEFAULT_SECRET = fieldMatcher(DEFAULT_REDACT);
/** Strings longer than this are recorded as their length and digest, not their text. */
const FULL_STRING_LIMIT = 1024;
const BASIC_STRING_LIMIT = 128;
const VERIFY_BATCH = 1000;

/**
 * What of the arguments is kept at each level; fields the redaction list names (logging.redact)
 * never, whatever the level.
 */
export function recordedArguments(args: unknown, level: AuditLevel, isSecret: (field: string) => boolean = DEFAULT_SECRET): string | null {
  if (level === 'none') return null;
  const keep = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') {
      const limit = level === 'full' ? FULL_STRING_LIMIT : BASIC_STRING_LIMIT;
      return value.length <= limit ? value : `[${value.length} chars, sha256:${sha256Hex(value)}]`;
    }
    if (value === null || typeof value !== 'object') return value;
    if (level === 'basic' && depth > 0) return Array.isArray(value) ? `[list of ${value.length}]` : '[object]';
    if (Array.isArray(value)) return value.map((v) => keep(v, depth + 1));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecret(k) ? REDACTED : keep(v, depth + 1)]));
  };
  return JSON.stringify(keep(args ?? {}, 0));
}

/**
 * The chain hash of one record: every field that is stored, and the hash before it. The
 * fields added with migration 12 (surface, resource, principal name) join the hashed list
 * only when a record has them, so records written before it still verify.
 */
export function chainHash(record: Omit<AuditRecord, 'hash'>): string {
  const fields: unknown[] = [
    record.prevHash,
    record.seq,
    record.at,
    record.principal,
    record.operation,
    record.outcome,
    record.errorCode,
    record.durationMs,
    record.traceId,
    record.arguments,
  ];
  if (record.surface !== 'tool' || record.resource !== null || record.principalName !== null) fields.push(record.surface, record.resource, record.principalName);
  return sha256Hex(JSON.stringify(fields));
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    seq: Number(row.seq),
    at: isoTimestamp(row.at),
    principal: row.principal,
    principalName: row.principal_name,
    operation: row.operation,
    surface: row.surface,
    resource: row.resource,
    outcome: row.outcome,
    errorCode: row.error_code,
    durationMs: row.duration_ms,
    traceId: row.trace_id,
    arguments: row.arguments,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

type RecordInput = Omit<AuditEntry, 'arguments'> & { recordedArguments: string | null };

interface PendingRecord {
  entry: RecordInput;
  intentId?: string;
  resolve(record: AuditRecord): void;
  reject(error: unknown): void;
}

/** Records written in one statement at most. */
const MAX_GROUP_COMMIT = 500;

/** The stored columns: name, SQL type, and the record's value. */
const AUDIT_COLUMN_SPECS: readonly [column: string, type: string, value: (r: AuditRecord) => unknown][] = [
  ['seq', 'bigint', (r) => r.seq],
  ['at', 'timestamptz', (r) => r.at],
  ['principal', 'text', (r) => r.principal],
  ['principal_name', 'text', (r) => r.principalName],
  ['operation', 'text', (r) => r.operation],
  ['surface', 'text', (r) => r.surface],
  ['resource', 'text', (r) => r.resource],
  ['outcome', 'text', (r) => r.outcome],
  ['error_code', 'text', (r) => r.errorCode],
  ['duration_ms', 'integer', (r) => r.durationMs],
  ['trace_id', 'text', (r) => r.traceId],
  ['arguments', 'text', (r) => r.arguments],
  ['prev_hash', 'text', (r) => r.prevHash],
  ['hash', 'text', (r) => r.hash],
];
const AUDIT_COLUMNS = AUDIT_COLUMN_SPECS.map(([column]) => column).join(', ');
const AUDIT_COLUMN_COUNT = AUDIT_COLUMN_SPECS.length;

/**
 * `unnest($first::bigint[], ...)`: the records as one array per column, so the statement is
 * the same short text for any batch size (a VALUES list would grow by 14 parameters a record).
 */
function unnestColumns(first: number): string {
  return `unnest(${AUDIT_COLUMN_SPECS.map(([, type], c) => `$${first + c}::${type}[]`).join(', ')})`;
}

/** The records' values, one array per column in AUDIT_COLUMNS order. */
function columnArrays(records: readonly AuditRecord[]): unknown[][] {
  return AUDIT_COLUMN_SPECS.map(([, , value]) => records.map(value));
}

/** The records of `entries`, hashed and numbered in order after `head`. */
function chainAfter(head: { seq: number; hash: string }, entries: readonly RecordInput[]): AuditRecord[] {
  let { seq, hash } = head;
  const records: AuditRecord[] = [];
  for (const entry of entries) {
    const unhashed = {
      seq: seq + 1,
      // Taken once the head is known (under its lock, or checked by the statement that
      // moves it), so time never runs backwards along the chain.
      at: new Date().toISOString(),
      principal: entry.principal,
      principalName: entry.principalName ?? null,
      operation: entry.operation,
      surface: entry.surface ?? 'tool',
      resource: entry.resource ?? null,
      outcome: entry.outcome,
      errorCode: entry.errorCode ?? null,
      durationMs: Math.round(entry.durationMs),
      traceId: entry.traceId ?? null,
      arguments: entry.recordedArguments,
      prevHash: hash,
    };
    const record: AuditRecord = { ...unhashed, hash: chainHash(unhashed) };
    records.push(record);
    ({ seq, hash } = record);
  }
  return records;
}

export class AuditLog {
  private readonly queue: PendingRecord[] = [];
  private flushing = false;
  /** The chain's head as this process last moved or read it; what the fast path expects to find. */
  private head?: { seq: number; hash: string };

  private readonly isSecret: (field: string) => boolean;

  constructor(
    private readonly sql: SqlPort,
    private readonly level: AuditLevel,
    redact: readonly string[] = DEFAULT_REDACT,
  ) {
    this.isSecret = fieldMatcher(redact);
  }

  /**
   * Records that a writing call is about to run; its outcome record (append with the
   * returned id) removes the intent. Throws when the log cannot be written, and then the
   * call must not run.
   */
  async begin(entry: Omit<AuditEntry, 'outcome' | 'errorCode' | 'durationMs'>, instance: string): Promise<string> {
    const id = randomUUID();
    await this.sql.query(
      `insert into governance_audit_intents (id, instance, principal, principal_name, operation, surface, resource, trace_id, arguments)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [id, instance, entry.principal, entry.principalName ?? null, entry.operation, entry.surface ?? 'tool', entry.resource ?? null, entry.traceId ?? null, recordedArguments(entry.arguments, this.level, this.isSecret)],
    );
    return id;
  }

  /**
   * Appends a record (removing the call's intent), answering once it is committed. Records
   * that arrive while a batch is being written go into the next one, together: one
   * transaction and one head lock per batch (group commit), so the chain costs little per
   * call under load and nothing extra when calls come one at a time. A batch that fails
   * fails every call in it.
   */
  append(entry: AuditEntry, intentId?: string): Promise<AuditRecord> {
    const recorded = { ...entry, recordedArguments: recordedArguments(entry.arguments, this.level, this.isSecret) };
    return new Promise((resolve, reject) => {
      this.queue.push({ entry: recorded, intentId, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_GROUP_COMMIT);
      try {
        const intents = batch.flatMap((pending) => (pending.intentId ? [pending.intentId] : []));
        const records = await this.appendBatch(
          batch.map((pending) => pending.entry),
          intents,
        );
        batch.forEach((pending, i) => pending.resolve(records[i]!));
      } catch (error) {
        this.head = undefined;
        for (const pending of batch) pending.reject(error);
      }
    }
    this.flushing = false;
  }

  /**
   * One batch. The fast path is a single statement that moves the head only if it is still
   * where this process last left it, and inserts the records (and removes the intents) only
   * if it did: no transaction, no lock held across round trips. When another process
   * (a replica, or an interrupted-call sweep) moved the head meanwhile, nothing is written
   * and the batch goes the locked way, which reads the head under its row lock.
   */
  private async appendBatch(entries: readonly RecordInput[], intents: readonly string[]): Promise<AuditRecord[]> {
    const expected = this.head;
    if (expected) {
      const records = chainAfter(expected, entries);
      const last = records[records.length - 1]!;
      const { rows } = await this.sql.query<{ moved: number }>(
        `with head as (
           update governance_audit_head set seq = $1, hash = $2 where id = 1 and seq = $3 and hash = $4 returning id
         ), appended as (
           insert into governance_audit (${AUDIT_COLUMNS})
           select * from ${unnestColumns(5)} where exists (select 1 from head)
         )${
           // Reads leave no intents: their batches skip the delete.
           intents.length > 0
             ? `, settled as (
           delete from governance_audit_intents where id = any($${5 + AUDIT_COLUMN_COUNT}::text[]) and exists (select 1 from head)
         )`
             : ''
         }
         select count(*)::int as moved from head`,
        [last.seq, last.hash, expected.seq, expected.hash, ...columnArrays(records), ...(intents.length > 0 ? [[...intents]] : [])],
        // Every call's record goes through this statement: planned once per connection.
        { prepare: intents.length > 0 ? 'audit_append_settling' : 'audit_append' },
      );
      if (rows[0]?.moved === 1) {
        this.head = { seq: last.seq, hash: last.hash };
        return records;
      }
    }
    const records = await this.sql.transaction(async (tx) => {
      const appended = await this.appendIn(tx, entries);
      if (intents.length > 0) await tx.query('delete from governance_audit_intents where id = any($1::text[])', [[...intents]]);
      return appended;
    });
    const last = records[records.length - 1]!;
    this.head = { seq: last.seq, hash: last.hash };
    return records;
  }

  /** Chains the records after the head, in order, inside the caller's transaction. */
  private async appendIn(tx: SqlExecutor, entries: readonly RecordInput[]): Promise<AuditRecord[]> {
    const head = await tx.query<{ seq: string | number; hash: string }>('select seq, hash from governance_audit_head where id = 1 for update');
    const records = chainAfter({ seq: Number(head.rows[0]!.seq), hash: head.rows[0]!.hash }, entries);
    await tx.query(`insert into governance_audit (${AUDIT_COLUMNS}) select * from ${unnestColumns(1)}`, columnArrays(records));
    const last = records[records.length - 1]!;
    await tx.query('update governance_audit_head set seq = $1, hash = $2 where id = 1', [last.seq, last.hash]);
    return records;
  }

  /** This process is alive: its intents are not interrupted. */
  async beat(instance: string): Promise<void> {
    await this.sql.query(
      `insert into governance_audit_instances (instance, seen_at) values ($1, now())
       on conflict (instance) do update set seen_at = excluded.seen_at`,
      [instance],
    );
  }

  /**
   * Turns the intents of dead processes into `interrupted` records: those of instances not
   * seen for `staleSeconds`, or, with `othersAreDead` (an embedded database has one process),
   * every instance but this one. Returns how many calls were recorded as interrupted.
   */
  async recordInterrupted(instance: string, options: { staleSeconds: number; othersAreDead: boolean }): Promise<number> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string; started_at: Date | string; principal: string; principal_name: string | null; operation: string; surface: string; resource: string | null; trace_id: string | null; arguments: string | null }>(
        `select i.* from governance_audit_intents i
         left join governance_audit_instances s on s.instance = i.instance
         where i.instance <> $1
           and ($2::boolean or s.seen_at is null or s.seen_at < now() - make_interval(secs => $3))
         order by i.started_at
         for update of i skip locked`,
        [instance, options.othersAreDead, options.staleSeconds],
      );
      for (const row of rows) {
        await this.appendIn(tx, [{
          principal: row.principal,
          principalName: row.principal_name ?? undefined,
          operation: row.operation,
          surface: row.surface as AuditSurface,
          resource: row.resource ?? undefined,
          outcome: 'interrupted',
          errorCode: 'INTERRUPTED',
          durationMs: Date.now() - new Date(row.started_at).getTime(),
          traceId: row.trace_id ?? undefined,
          recordedArguments: row.arguments,
        }]);
        await tx.query('delete from governance_audit_intents where id = $1', [row.id]);
      }
      await tx.query(`delete from governance_audit_instances where instance <> $1 and seen_at < now() - make_interval(secs => $2)`, [instance, options.staleSeconds]);
      return rows.length;
    });
  }

  /** Newest first, keyset-paginated on seq. */
  async query(filter: { principal?: string; operation?: string; since?: string; until?: string; cursor?: string; limit: number }): Promise<{ records: AuditRecord[]; nextCursor?: string }> {
    const cursor = filter.cursor ? decodeCursor(filter.cursor, isSeq) : undefined;
    const { rows } = await this.sql.query<AuditRow>(
      `select * from governance_audit
       where ($1::text is null or principal = $1)
         and ($2::text is null or operation = $2)
         and ($3::timestamptz is null or at >= $3)
         and ($4::timestamptz is null or at < $4)
         and ($5::bigint is null or seq < $5)
       order by seq desc
       limit $6`,
      [filter.principal ?? null, filter.operation ?? null, filter.since ?? null, filter.until ?? null, cursor ?? null, filter.limit + 1],
    );
    const { page, nextCursor } = keysetPage(rows, filter.limit, (row) => Number(row.seq));
    return {
      records: page.map(toRecord),
      ...(nextCursor ? { nextCursor } : {}),
    };
  }

  /**
   * Recomputes the chain from the first record. A record is broken when its hash does not
   * match its fields, when it does not point at the record before it, or when a sequence
   * number is missing; the head row must match the last record, so truncation shows too.
   */
  async verify(): Promise<{ ok: boolean; records: number; firstBroken?: { seq: number; reason: string } }> {
    let expectedPrev = '0'.repeat(64);
    let expectedSeq = 1;
    let records = 0;
    for (;;) {
      const { rows } = await this.sql.query<AuditRow>('select * from governance_audit where seq >= $1 order by seq limit $2', [expectedSeq, VERIFY_BATCH]);
      for (const row of rows) {
        const record = toRecord(row);
        const broken = (reason: string) => ({ ok: false, records, firstBroken: { seq: record.seq, reason } });
        if (record.seq !== expectedSeq) return { ok: false, records, firstBroken: { seq: expectedSeq, reason: `record ${expectedSeq} is missing` } };
        if (record.prevHash !== expectedPrev) return broken('its prevHash is not the hash of the record before it');
        const { hash, ...unhashed } = record;
        if (chainHash(unhashed) !== hash) return broken('its fields do not match its hash (the record was changed)');
        expectedPrev = hash;
        expectedSeq++;
        records++;
      }
      if (rows.length < VERIFY_BATCH) break;
    }
    const head = await this.sql.query<{ seq: string | number; hash: string }>('select seq, hash from governance_audit_head where id = 1');
    const { seq, hash } = head.rows[0]!;
    if (Number(seq) !== records || hash !== expectedPrev) {
      return { ok: false, records, firstBroken: { seq: records + 1, reason: `the chain head is at record ${seq}, but the stored records end at ${records} (records were removed)` } };
    }
    return { ok: true, records };
  }
}
