/*
 * Schema migrations
 * =================
 * An ordered list of versioned SQL, applied at start-up inside one transaction under an
 * advisory lock, so replicas starting together apply each version exactly once. The same
 * SQL runs on PGlite and PostgreSQL, except a migration marked for one backend (a tuning
 * that pays only there), which the other records as applied without running it, and a
 * migration whose SQL is a function of the backend. Never edit an applied migration: add
 * the next one.
 */
import type { SqlPort } from './sql-port.js';

export interface Migration {
  version: number;
  name: string;
  up: string | ((kind: SqlPort['kind']) => string);
  /** Runs on this backend only; elsewhere it is recorded as applied. */
  only?: SqlPort['kind'];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry and validation',
    up: `
      create table validation_schemas (
        id text primary key,
        schema jsonb not null,
        media_type text unique,
        revision integer not null default 1,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );

      create table registry_artifacts (
        name text not null,
        version text not null,
        major integer not null,
        minor integer not null,
        patch integer not null,
        prerelease text,
        digest text not null,
        size integer not null,
        media_type text not null,
        content bytea not null,
        labels jsonb not null default '{}'::jsonb,
        metadata jsonb not null default '{}'::jsonb,
        created_at timestamptz not null default now(),
        created_by text not null,
        yanked boolean not null default false,
        yank_reason text,
        yanked_at timestamptz,
        seq integer generated always as identity,
        primary key (name, version)
      );
      create index registry_artifacts_labels on registry_artifacts using gin (labels jsonb_path_ops);
      create index registry_artifacts_order on registry_artifacts (name, major desc, minor desc, patch desc);

      create table registry_aliases (
        name text not null,
        alias text not null,
        version text not null,
        updated_at timestamptz not null default now(),
        updated_by text not null,
        primary key (name, alias),
        foreign key (name, version) references registry_artifacts (name, version)
      );
    `,
  },
  {
    version: 2,
    name: 'rag: collections, documents, chunks with vectors, BM25 postings',
    up: `
      create extension if not exists vector;

      create table rag_collections (
        name text primary key,
        embedder text not null,
        dimensions integer not null,
        document_count integer not null default 0,
        chunk_count integer not null default 0,
        token_total bigint not null default 0,
        generation integer not null default 0,
        created_at timestamptz not null default now()
      );

      create table rag_documents (
        collection text not null references rag_collections (name) on delete cascade,
        id text not null,
        title text,
        uri text,
        mime_type text not null,
        content_hash text not null,
        metadata jsonb not null default '{}'::jsonb,
        text text not null,
        chunk_count integer not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        primary key (collection, id)
      );
      create index rag_documents_metadata on rag_documents using gin (metadata);

      create table rag_chunks (
        id integer generated always as identity primary key,
        collection text not null,
        document_id text not null,
        ordinal integer not null,
        text text not null,
        start_offset integer not null,
        end_offset integer not null,
        token_count integer not null,
        terms text[] not null,
        metadata jsonb not null default '{}'::jsonb,
        embedding vector not null,
        foreign key (collection, document_id) references rag_documents (collection, id) on delete cascade
      );
      create index rag_chunks_document on rag_chunks (collection, document_id);
      create index rag_chunks_metadata on rag_chunks using gin (metadata jsonb_path_ops);

      -- No foreign key: a per-row check would dominate ingest. Postings are removed with
      -- their chunks by the engine, using rag_chunks.terms. dl (the chunk's length in terms)
      -- is copied here so that BM25 needs no join to rag_chunks.
      create table rag_postings (
        collection text not null,
        term text not null,
        chunk_id integer not null,
        tf integer not null,
        dl integer not null,
        primary key (collection, term, chunk_id)
      );

      create table rag_term_stats (
        collection text not null,
        term text not null,
        df integer not null,
        primary key (collection, term)
      );
    `,
  },
  {
    version: 3,
    name: 'rag graph: entities, mentions, relations',
    up: `
      -- An entity is its key (analyzer terms of its name) within a collection; documents
      -- share it. No foreign keys, like postings: the engine removes rows with documents.
      create table rag_entities (
        collection text not null,
        key text not null,
        name text not null,
        type text not null,
        primary key (collection, key)
      );
      -- query linking: entities whose terms are all in the query
      create index rag_entities_terms on rag_entities using gin (string_to_array(key, ' '));

      create table rag_mentions (
        collection text not null,
        entity text not null,
        chunk_id integer not null,
        document_id text not null,
        count integer not null,
        primary key (collection, entity, chunk_id)
      );
      create index rag_mentions_document on rag_mentions (collection, document_id);

      create table rag_relations (
        collection text not null,
        source text not null,
        target text not null,
        label text not null,
        document_id text not null,
        chunk_id integer not null,
        weight integer not null
      );
      create index rag_relations_source on rag_relations (collection, source);
      create index rag_relations_target on rag_relations (collection, target);
      create index rag_relations_document on rag_relations (collection, document_id);
    `,
  },
  {
    version: 4,
    name: 'dag: workflows, runs and their nodes (the nodes table is also the work queue)',
    up: `
      create table dag_workflows (
        name text not null,
        version integer not null,
        definition jsonb not null,
        digest text not null,
        node_count integer not null,
        created_at timestamptz not null default now(),
        created_by text not null,
        primary key (name, version)
      );

      create table dag_runs (
        id text primary key,
        seq bigint generated always as identity,
        workflow text not null,
        workflow_version integer,
        status text not null,
        params jsonb not null,
        output_spec jsonb,
        concurrency integer not null,
        principal_id text not null,
        principal_scopes jsonb not null,
        idempotency_key text,
        request_digest text not null,
        node_count integer not null,
        remaining integer not null,
        failed integer not null default 0,
        output jsonb,
        error text,
        created_at timestamptz not null default now(),
        started_at timestamptz,
        finished_at timestamptz,
        unique (principal_id, idempotency_key)
      );
      create index dag_runs_seq on dag_runs (seq desc);
      create index dag_runs_active on dag_runs (status) where status in ('queued', 'running');

      -- One row per node and run. A node is ready when pending with no unfinished
      -- dependency; a replica claims it with FOR UPDATE SKIP LOCKED and holds a lease that
      -- its heartbeat extends, so a dead replica's nodes are claimed again once it lapses.
      create table dag_nodes (
        run_id text not null references dag_runs (id) on delete cascade,
        ordinal integer not null,
        node_id text not null,
        action text not null,
        spec jsonb not null,
        refs text[] not null,
        children integer[] not null,
        deps_remaining integer not null,
        status text not null default 'pending',
        attempts integer not null default 0,
        lease_owner text,
        lease_expires timestamptz,
        started_at timestamptz,
        finished_at timestamptz,
        error text,
        output jsonb,
        primary key (run_id, ordinal),
        unique (run_id, node_id)
      );
      create index dag_nodes_ready on dag_nodes (run_id, ordinal) where status = 'pending' and deps_remaining = 0;
      create index dag_nodes_leases on dag_nodes (lease_expires) where status = 'running';
    `,
  },
  {
    version: 5,
    name: 'governance: policies, decisions, audit chain; promotion: requests, approvals, events',
    up: `
      create table governance_policies (
        id text primary key,
        description text not null,
        target text not null,
        expression text not null,
        effect text not null check (effect in ('deny', 'warn')),
        message text not null,
        revision bigint not null,
        updated_at timestamptz not null default now(),
        updated_by text not null
      );
      create index governance_policies_target on governance_policies (target);

      -- One row: the revision of the whole policy set, bumped by every change, so a
      -- replica knows its compiled copy is stale with one indexed read.
      create table governance_policy_set (
        id integer primary key check (id = 1),
        revision bigint not null
      );
      insert into governance_policy_set (id, revision) values (1, 0);

      create table governance_decisions (
        id text primary key,
        decided_at timestamptz not null default now(),
        target text not null,
        principal text not null,
        input_digest text not null,
        allow boolean not null,
        violations jsonb not null,
        warnings jsonb not null,
        policy_revision bigint not null
      );
      create index governance_decisions_target on governance_decisions (target, decided_at);

      -- The audit chain: each record's hash covers its fields and the previous hash.
      -- Appends serialize on the single head row (select ... for update).
      create table governance_audit (
        seq bigint primary key,
        at timestamptz not null,
        principal text not null,
        operation text not null,
        outcome text not null,
        error_code text,
        duration_ms integer not null,
        trace_id text,
        arguments text,
        prev_hash text not null,
        hash text not null
      );
      create index governance_audit_principal on governance_audit (principal, seq);
      create index governance_audit_operation on governance_audit (operation, seq);
      create index governance_audit_at on governance_audit (at);

      create table governance_audit_head (
        id integer primary key check (id = 1),
        seq bigint not null,
        hash text not null
      );
      insert into governance_audit_head (id, seq, hash) values (1, 0, repeat('0', 64));

      -- Append-only: updates and deletes are refused. Tampering by a superuser who drops
      -- this trigger is still caught by governance_audit_verify.
      create function governance_audit_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'governance_audit is append-only';
      end $$;
      create trigger governance_audit_no_change before update or delete on governance_audit
        for each row execute function governance_audit_append_only();

      create table promotion_requests (
        id text primary key,
        name text not null,
        version text not null,
        environment text not null,
        reason text not null,
        requested_by text not null,
        status text not null check (status in ('pending_approval', 'promoted', 'rejected', 'expired')),
        approvals_required integer not null,
        gates jsonb not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        decided_at timestamptz,
        decided_by text,
        comment text,
        foreign key (name, version) references registry_artifacts (name, version)
      );
      create index promotion_requests_artifact on promotion_requests (name, environment, created_at);

      create table promotion_approvals (
        request_id text not null references promotion_requests (id),
        approver text not null,
        decision text not null check (decision in ('approve', 'reject')),
        comment text,
        at timestamptz not null default now(),
        primary key (request_id, approver)
      );

      -- Every alias move by promotion or rollback. A rollback marks the promotion it undoes.
      create table promotion_events (
        seq integer generated always as identity primary key,
        name text not null,
        environment text not null,
        action text not null check (action in ('promote', 'rollback')),
        version text not null,
        previous_version text,
        request_id text references promotion_requests (id),
        actor text not null,
        at timestamptz not null default now(),
        rolled_back boolean not null default false
      );
      create index promotion_events_alias on promotion_events (name, environment, seq);
    `,
  },
  {
    version: 6,
    name: 'api keys',
    up: `
      -- Only a SHA-256 of each key's secret is kept: the secret is 256 random bits, so a
      -- fast hash is safe, and the plain key is shown once, at creation.
      create table api_keys (
        id text primary key,
        name text not null,
        secret_hash text not null,
        scopes text[] not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz,
        revoked_at timestamptz
      );
    `,
  },
  {
    version: 7,
    name: 'dag runs keep the trace context of the call that started them',
    up: `
      alter table dag_runs add column trace_context jsonb;
    `,
  },
  {
    version: 8,
    name: 'rag postings key covers tf and dl (PostgreSQL)',
    only: 'postgres',
    // BM25 reads tf and dl with every posting. Kept in the key, a posting is read from the
    // index alone once autovacuum has marked its page all-visible, instead of costing a heap
    // visit each (and a query on a large collection reads thousands). PGlite has
    // no autovacuum to keep the visibility map, so there the wider key would only cost ingest.
    up: `
      alter table rag_postings drop constraint rag_postings_pkey;
      alter table rag_postings add constraint rag_postings_pkey primary key (collection, term, chunk_id) include (tf, dl);
    `,
  },
  {
    version: 9,
    name: 'rag entities keep how many chunks mention them; their terms index is updated in place',
    up: `
      -- graph queries counted each entity's mentions
      alter table rag_entities add column chunks integer not null default 0;
      update rag_entities e set chunks = m.chunks
      from (select collection, entity, count(*)::int as chunks from rag_mentions group by collection, entity) m
      where m.collection = e.collection and m.entity = e.key;
      -- GIN's pending list is merged only by vacuum, which PGlite never runs: scanned on every
      -- look-up, it made the index slower than reading the whole table
      alter index rag_entities_terms set (fastupdate = off);
      select gin_clean_pending_list('rag_entities_terms'::regclass);

      -- relations summed per (source, target, label), kept as documents are added and removed:
      -- a graph query's second hop aggregated 100,000 relation rows at 64,000 chunks
      create table rag_edges (
        collection text not null,
        source text not null,
        target text not null,
        label text not null,
        weight integer not null,
        primary key (collection, source, target, label)
      );
      create index rag_edges_target on rag_edges (collection, target);
      insert into rag_edges (collection, source, target, label, weight)
      select collection, source, target, label, sum(weight)::int from rag_relations group by collection, source, target, label;
      -- rag_relations is now read by document only (removal)
      drop index rag_relations_source;
      drop index rag_relations_target;
    `,
  },
  {
    version: 10,
    name: 'rag postings and term statistics keyed by collection id; chunk rows kept inline',
    // Most of PGlite's ingest went to the postings key. The collection's name in every key
    // (and term statistics row) made it larger and slower to compare than an integer, and
    // loading postings measurably slower. Chunk rows (text, terms,
    // a 3 KB vector at 768 dimensions) went over the 2 KB TOAST threshold, so each insert
    // compressed the text and terms and moved the vector out of line; toast_tuple_target keeps
    // them in the page (rows over 8 KB, e.g. 1,536-dimension vectors, are still TOASTed).
    up: (kind) => `
      alter table rag_collections add column id integer generated always as identity;
      alter table rag_collections add constraint rag_collections_id_key unique (id);

      create table rag_postings_by_id (
        collection_id integer not null,
        term text not null,
        chunk_id integer not null,
        tf integer not null,
        dl integer not null
      );
      insert into rag_postings_by_id (collection_id, term, chunk_id, tf, dl)
      select c.id, p.term, p.chunk_id, p.tf, p.dl from rag_postings p join rag_collections c on c.name = p.collection;
      drop table rag_postings;
      alter table rag_postings_by_id rename to rag_postings;
      alter table rag_postings add constraint rag_postings_pkey primary key (collection_id, term, chunk_id)${kind === 'postgres' ? ' include (tf, dl)' : ''};

      create table rag_term_stats_by_id (
        collection_id integer not null,
        term text not null,
        df integer not null
      );
      insert into rag_term_stats_by_id (collection_id, term, df)
      select c.id, s.term, s.df from rag_term_stats s join rag_collections c on c.name = s.collection;
      drop table rag_term_stats;
      alter table rag_term_stats_by_id rename to rag_term_stats;
      alter table rag_term_stats add constraint rag_term_stats_pkey primary key (collection_id, term);

      alter table rag_chunks set (toast_tuple_target = 8160);
    `,
  },
  {
    version: 11,
    name: 'rag mentions indexed by entity and count',
    // A graph query takes each linked entity's most-mentioning chunks. Keyed by chunk id, a
    // hub entity's every mention (thousands of chunks for a common word) was read and sorted;
    // in count order the first few index entries are the answer. It replaces the primary key rather than adding a second index, which
    // every ingest would pay for: an entity appears once per chunk by construction
    // (extraction merges a chunk's mentions of a key into one count).
    up: `
      alter table rag_mentions drop constraint rag_mentions_pkey;
      create index rag_mentions_top on rag_mentions (collection, entity, count desc, chunk_id);
    `,
  },
  {
    version: 12,
    name: 'audit: surface, resource and principal name; intents of running calls',
    // Every MCP surface is audited (a resource read names its URI, a prompt its name), and a
    // record names the key or token subject behind a principal id. A writing call leaves an
    // intent before it runs, so a call killed half-way becomes an `interrupted` record once
    // its process is known dead (its instance stopped beating).
    up: `
      alter table governance_audit add column surface text not null default 'tool';
      alter table governance_audit add column resource text;
      alter table governance_audit add column principal_name text;
      create table governance_audit_intents (
        id text primary key,
        instance text not null,
        started_at timestamptz not null default now(),
        principal text not null,
        principal_name text,
        operation text not null,
        surface text not null,
        resource text,
        trace_id text,
        arguments text
      );
      create index governance_audit_intents_instance on governance_audit_intents (instance);
      create table governance_audit_instances (
        instance text primary key,
        seen_at timestamptz not null default now()
      );
    `,
  },
  {
    version: 13,
    name: 'dag nodes count the attempts a process crash interrupted',
    // Taken back from a dead process (its lease lapsed, or the embedded database's one
    // process restarted): a node that keeps crashing its process fails after
    // DAG_engine.settings.maxInterruptedAttempts instead of being resumed forever.
    up: `alter table dag_nodes add column interruptions integer not null default 0;`,
  },
  {
    version: 14,
    name: 'rag: where a document was read from (file, size, mtime, hash, PDF page offsets)',
    // Kept apart from metadata: metadata is copied to every chunk and filtered on, while this
    // is read only by incremental ingestion (one query per collection) and page citations.
    up: `alter table rag_documents add column source jsonb;`,
  },
  {
    version: 15,
    name: 'rag: vectors computed after the write, and a collection moving to another embedder',
    // embedding is null until the background embedder (rag/embedding-backfill.ts) reaches the
    // chunk; the partial index finds those few rows. next_embedding holds the vectors of the
    // embedder a collection is moving to (target_embedder) until all are there.
    up: `
      alter table rag_chunks alter column embedding drop not null;
      alter table rag_chunks add column next_embedding vector;
      alter table rag_collections add column target_embedder text, add column target_dimensions integer;
      create index rag_chunks_unembedded on rag_chunks (collection, id) where embedding is null;
    `,
  },
];

const LOCK_KEY = 7_301_220_411; // arbitrary, fixed: serializes migrations across replicas

export interface MigrationStatus {
  applied: number[];
  current: number;
}

export async function migrate(sql: SqlPort, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationStatus> {
  const latest = migrations.at(-1)?.version ?? 0;
  return sql.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.exec(`
      create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`);
    const { rows } = await tx.query<{ version: number }>('select version from schema_migrations order by version');
    const done = new Set(rows.map((r) => r.version));
    const newest = rows.at(-1)?.version ?? 0;
    if (newest > latest) {
      throw new Error(`migrations: the database is at schema version ${newest}, newer than this build knows (${latest}); upgrade mcp-level3`);
    }
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      if (!migration.only || migration.only === sql.kind) await tx.exec(typeof migration.up === 'string' ? migration.up : migration.up(sql.kind));
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    return { applied, current: latest };
  });
}
