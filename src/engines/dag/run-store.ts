/*
 * dag/run-store
 * =============
 * The SQL of runs and nodes, the same on PGlite and PostgreSQL. Batches travel as one
 * jsonb parameter (jsonb_to_recordset), so a claim or a group of completions is one
 * statement whatever its size. Every write of a node's result is fenced by its lease: a
 * replica whose lease lapsed, and whose node another replica took, writes nothing. Inline
 * builtins are claimed the same way, so their expressions are evaluated outside any
 * transaction, and a crash while one runs is counted (interruptions) like any other.
 *
 * Batched writes find their rows with `run_id = any(..) and ordinal = any(..)`, which the
 * primary key answers with index probes, and match the exact pairs afterwards: joining the
 * dag_nodes table to a jsonb_to_recordset directly lets the planner pick a hash join over
 * a sequential scan (it guesses 100 rows for the function), which made every flush cost
 * O(nodes of all runs) and a 10,000-node run quadratic.
 */
import type { SqlExecutor, SqlPort } from '../../platform/sql/sql-port.js';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type NodeStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface NodeSpec {
  input?: unknown;
  when?: string;
  retry?: { maxAttempts: number; initialDelayMs: number; maxDelayMs: number };
  timeoutMs?: number;
}

export interface ClaimedNode {
  run_id: string;
  ordinal: number;
  node_id: string;
  action: string;
  spec: NodeSpec;
  attempts: number;
  params: Record<string, unknown>;
  upstream: Record<string, unknown> | null;
  principal_id: string;
  principal_scopes: string[];
  concurrency: number;
  run_status: RunStatus;
  /** W3C trace context of the dag_run call, when it was traced. */
  trace_context: Record<string, string> | null;
  /** Attempts cut short by a process crash (taken back after its lease lapsed). */
  interruptions: number;
}

/** A ready node of an inline action, claimed under a lease like the others. */
export interface InlineNode {
  run_id: string;
  ordinal: number;
  node_id: string;
  action: string;
  spec: NodeSpec;
  params: Record<string, unknown>;
  upstream: Record<string, unknown> | null;
  children: number[];
  attempts: number;
  interruptions: number;
}

export interface Completion {
  run_id: string;
  ordinal: number;
  status: 'succeeded' | 'failed' | 'skipped' | 'cancelled';
  output: unknown;
  error: string | null;
  /** Skipped by its condition: its dependents still run, as after a success. */
  releasesChildren: boolean;
  /** The claim did not start an attempt (a false condition): give the attempt back. */
  notAttempted?: boolean;
}

export interface RunRow {
  id: string;
  seq: string | number;
  workflow: string;
  workflow_version: number | null;
  status: RunStatus;
  params: Record<string, unknown>;
  output_spec: unknown;
  node_count: number;
  remaining: number;
  failed: number;
  output: unknown;
  error: string | null;
  request_digest: string;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
}

export interface NodeRow {
  node_id: string;
  action: string;
  status: NodeStatus;
  attempts: number;
  started_at: Date | string | null;
  finished_at: Date | string | null;
  error: string | null;
  output: unknown;
}

export const RUN_COLUMNS = 'id, seq, workflow, workflow_version, status, params, output_spec, node_count, remaining, failed, output, error, request_digest, created_at, started_at, finished_at';

/**
 * Claims up to `limit` ready nodes for `owner`, fairly across runs: the first ready node
 * of every run, then the second of every run, and so on, at most `perRun` per run.
 */
export async function claimReady(sql: SqlPort, owner: string, limit: number, perRun: number, leaseMs: number, inlineActions: readonly string[]): Promise<ClaimedNode[]> {
  const { rows } = await sql.query<ClaimedNode>(
    `with ready as (
       select n.run_id, n.ordinal, row_number() over (partition by n.run_id order by n.ordinal) as rn
       from dag_nodes n join dag_runs r on r.id = n.run_id
       where n.status = 'pending' and n.deps_remaining = 0 and r.status in ('queued', 'running') and n.action <> all($5::text[])
     ),
     picked as (select run_id, ordinal from ready where rn <= $2 order by rn, run_id limit $1),
     locked as (
       select n.run_id, n.ordinal from dag_nodes n join picked p on p.run_id = n.run_id and p.ordinal = n.ordinal
       where n.status = 'pending' and n.deps_remaining = 0
       for update of n skip locked
     )
     update dag_nodes n
        set status = 'running', attempts = n.attempts + 1, lease_owner = $3,
            lease_expires = now() + $4 * interval '1 millisecond', started_at = coalesce(n.started_at, now())
       from locked, dag_runs r
      where n.run_id = locked.run_id and n.ordinal = locked.ordinal and r.id = n.run_id
     returning n.run_id, n.ordinal, n.node_id, n.action, n.spec, n.attempts, n.interruptions, r.params, r.principal_id, r.principal_scopes, r.concurrency, r.status as run_status, r.trace_context,
       (select jsonb_object_agg(u.node_id, u.output) from dag_nodes u where u.run_id = n.run_id and u.node_id = any(n.refs) and u.status = 'succeeded') as upstream`,
    [limit, perRun, owner, leaseMs, inlineActions],
  );
  await markStarted(sql, rows);
  return rows;
}

/** Queued runs among these become running (a statement only when one of them is still queued). */
async function markStarted(sql: SqlExecutor, rows: { run_id: string; run_status: RunStatus }[]): Promise<void> {
  const queued = [...new Set(rows.filter((r) => r.run_status === 'queued').map((r) => r.run_id))];
  if (queued.length > 0) await sql.query(`update dag_runs set status = 'running', started_at = now() where id = any($1::text[]) and status = 'queued'`, [queued]);
}

/**
 * Claims up to `limit` ready nodes of inline actions for `owner`, fairly across runs and
 * at most each run's concurrency per run, under a lease like claimReady: the caller
 * evaluates them outside any transaction and writes their results fenced by the lease.
 */
export async function claimInline(sql: SqlPort, owner: string, limit: number, leaseMs: number, inlineActions: readonly string[]): Promise<InlineNode[]> {
  const { rows } = await sql.query<InlineNode & { run_status: RunStatus }>(
    `with ready as (
       select n.run_id, n.ordinal, r.concurrency, row_number() over (partition by n.run_id order by n.ordinal) as rn
       from dag_nodes n join dag_runs r on r.id = n.run_id
       where n.status = 'pending' and n.deps_remaining = 0 and r.status in ('queued', 'running') and n.action = any($2::text[])
     ),
     picked as (select run_id, ordinal from ready where rn <= concurrency order by rn, run_id limit $1),
     locked as (
       select n.run_id, n.ordinal from dag_nodes n join picked p on p.run_id = n.run_id and p.ordinal = n.ordinal
       where n.status = 'pending' and n.deps_remaining = 0
       for update of n skip locked
     )
     update dag_nodes n
        set status = 'running', attempts = n.attempts + 1, lease_owner = $3,
            lease_expires = now() + $4 * interval '1 millisecond', started_at = coalesce(n.started_at, now())
       from locked, dag_runs r
      where n.run_id = locked.run_id and n.ordinal = locked.ordinal and r.id = n.run_id
     returning n.run_id, n.ordinal, n.node_id, n.action, n.spec, n.children, n.attempts, n.interruptions, r.params, r.status as run_status,
       (select jsonb_object_agg(u.node_id, u.output) from dag_nodes u where u.run_id = n.run_id and u.node_id = any(n.refs) and u.status = 'succeeded') as upstream`,
    [limit, inlineActions, owner, leaseMs],
  );
  await markStarted(sql, rows);
  return rows;
}

export interface FlushResult {
  /** Runs whose state changed. */
  runs: string[];
  /** Runs that reached their end with this flush and need their output computed. */
  finished: RunRow[];
  /** The flush made a node of an inline action ready. */
  inlineReady?: boolean;
}

/** Writes a batch of node results in one transaction, releasing dependents and skipping the descendants of failures. */
export async function writeCompletions(sql: SqlPort, owner: string, completions: Completion[], inlineActions: readonly string[]): Promise<FlushResult> {
  return sql.transaction((tx) => writeCompletionsIn(tx, owner, completions, inlineActions));
}

const pairKey = (run: string, ordinal: number) => `${run}/${ordinal}`;

function childReleases(done: { run_id: string; children: number[] }[]): { run_id: string; ordinal: number; count: number }[] {
  const release = new Map<string, { run_id: string; ordinal: number; count: number }>();
  for (const d of done) {
    for (const child of d.children) {
      const key = pairKey(d.run_id, child);
      const entry = release.get(key) ?? { run_id: d.run_id, ordinal: child, count: 0 };
      entry.count++;
      release.set(key, entry);
    }
  }
  return [...release.values()];
}

/** Parameters that find these (run, ordinal) pairs by primary-key probes: runs, ordinals, and the exact pairs. */
function pairParams(pairs: { run_id: string; ordinal: number; count?: number }[]): [string[], number[], string] {
  return [
    [...new Set(pairs.map((p) => p.run_id))],
    [...new Set(pairs.map((p) => p.ordinal))],
    JSON.stringify(Object.fromEntries(pairs.map((p) => [pairKey(p.run_id, p.ordinal), p.count ?? 1]))),
  ];
}

/**
 * Completions of claimed inline nodes that all release their children (none failed), in
 * one statement: the nodes, their children's counters and the runs' counters. Only nodes
 * still running under this owner's lease are written, and only their children released;
 * failures take the general path (skipping descendants can touch a child this would
 * release, and one statement may not update a row twice).
 */
export async function writeInlineCompletions(sql: SqlPort, owner: string, completions: (Completion & { children: number[] })[]): Promise<FlushResult> {
  const [runs, ordinals, pairs] = pairParams(completions);
  const [childRuns, childOrdinals, childCounts] = pairParams(childReleases(completions));
  const { rows } = await sql.query<RunRow>(
    `with done as (
       update dag_nodes n
          set status = c.status, output = c.output, error = c.error, finished_at = now(), lease_expires = null,
              attempts = n.attempts + c.attempt_delta, started_at = case when c.attempt_delta < 0 then null else n.started_at end
         from jsonb_to_recordset($1::jsonb) as c(run_id text, ordinal integer, status text, output jsonb, error text, attempt_delta integer)
        where n.run_id = any($2::text[]) and n.ordinal = any($3::integer[]) and $4::jsonb ? (n.run_id || '/' || n.ordinal)
          and n.run_id = c.run_id and n.ordinal = c.ordinal and n.status = 'running' and n.lease_owner = $8
       returning n.run_id, n.children
     ),
     kids as (
       select d.run_id, k.child as ordinal, count(*)::integer as n
         from done d cross join lateral unnest(d.children) as k(child) group by d.run_id, k.child
     ),
     released as (
       update dag_nodes n set deps_remaining = n.deps_remaining - kids.n
         from kids
        where n.run_id = any($5::text[]) and n.ordinal = any($6::integer[]) and $7::jsonb ? (n.run_id || '/' || n.ordinal)
          and n.run_id = kids.run_id and n.ordinal = kids.ordinal
     ),
     counted as (select run_id, count(*)::integer as n from done group by run_id)
     update dag_runs r set remaining = r.remaining - counted.n
       from counted where r.id = any($2::text[]) and r.id = counted.run_id
     returning ${RUN_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}`,
    [
      JSON.stringify(completions.map((c) => ({ run_id: c.run_id, ordinal: c.ordinal, status: c.status, output: c.output ?? null, error: c.error, attempt_delta: c.notAttempted ? -1 : 0 }))),
      runs,
      ordinals,
      pairs,
      childRuns,
      childOrdinals,
      childCounts,
      owner,
    ],
  );
  return { runs: rows.map((r) => r.id), finished: rows.filter((r) => r.remaining <= 0 && (r.status === 'running' || r.status === 'queued')) };
}

/** The same within a transaction the caller holds: a completion is accepted when its node is still running under this owner's lease. */
export async function writeCompletionsIn(tx: SqlExecutor, owner: string, completions: Completion[], inlineActions: readonly string[]): Promise<FlushResult> {
  if (completions.length === 0) return { runs: [], finished: [] };
  const { rows: written } = await tx.query<{ run_id: string; ordinal: number; status: string; node_id: string; children: number[] }>(
    `update dag_nodes n
        set status = c.status, output = c.output, error = c.error, finished_at = now(), lease_expires = null,
            attempts = n.attempts + c.attempt_delta,
            started_at = case when c.attempt_delta < 0 then null when c.attempt_delta > 0 then now() else n.started_at end
       from jsonb_to_recordset($1::jsonb) as c(run_id text, ordinal integer, status text, output jsonb, error text, attempt_delta integer)
      where n.run_id = any($3::text[]) and n.ordinal = any($4::integer[])
        and n.run_id = c.run_id and n.ordinal = c.ordinal
        and n.status = 'running' and n.lease_owner = $2
     returning n.run_id, n.ordinal, n.status, n.node_id, n.children`,
    [
      JSON.stringify(
        completions.map((c) => ({
          run_id: c.run_id,
          ordinal: c.ordinal,
          status: c.status,
          output: c.output ?? null,
          error: c.error,
          // The claim counted the attempt.
          attempt_delta: c.notAttempted ? -1 : 0,
        })),
      ),
      owner,
      [...new Set(completions.map((c) => c.run_id))],
      [...new Set(completions.map((c) => c.ordinal))],
    ],
  );
  const releasing = new Set(completions.filter((c) => c.status === 'succeeded' || c.releasesChildren).map((c) => pairKey(c.run_id, c.ordinal)));
  const release = childReleases(written.filter((w) => releasing.has(pairKey(w.run_id, w.ordinal))));
  const failed = written.filter((w) => w.status === 'failed');

  const inlineReady = release.length > 0 && (await releaseChildren(tx, release)).some((r) => r.deps_remaining === 0 && inlineActions.includes(r.action));
  const skipped = failed.length > 0 ? await skipDescendants(tx, failed) : [];

  const perRun = new Map<string, { done: number; failed: number }>();
  const bump = (run: string, done: number, fail: number) => {
    const entry = perRun.get(run) ?? { done: 0, failed: 0 };
    entry.done += done;
    entry.failed += fail;
    perRun.set(run, entry);
  };
  for (const w of written) bump(w.run_id, 1, w.status === 'failed' ? 1 : 0);
  for (const s of skipped) bump(s.run_id, s.count, 0);
  if (perRun.size === 0) return { runs: [], finished: [], inlineReady };
  const { rows: runs } = await tx.query<RunRow>(
    `update dag_runs r set remaining = r.remaining - c.done, failed = r.failed + c.failed
       from jsonb_to_recordset($1::jsonb) as c(run_id text, done integer, failed integer)
      where r.id = any($2::text[]) and r.id = c.run_id
     returning ${RUN_COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')}`,
    [JSON.stringify([...perRun].map(([run_id, v]) => ({ run_id, ...v }))), [...perRun.keys()]],
  );
  return { runs: runs.map((r) => r.id), finished: runs.filter((r) => r.remaining <= 0 && (r.status === 'running' || r.status === 'queued')), inlineReady };
}

/** Decrements deps_remaining of the children of completed nodes (a child of two of them by two). */
async function releaseChildren(tx: SqlExecutor, children: { run_id: string; ordinal: number; count: number }[]): Promise<{ action: string; deps_remaining: number }[]> {
  const { rows } = await tx.query<{ action: string; deps_remaining: number }>(
    `update dag_nodes n set deps_remaining = n.deps_remaining - ($3::jsonb ->> (n.run_id || '/' || n.ordinal))::integer
      where n.run_id = any($1::text[]) and n.ordinal = any($2::integer[]) and $3::jsonb ? (n.run_id || '/' || n.ordinal)
     returning n.action, n.deps_remaining`,
    pairParams(children),
  );
  return rows;
}

async function skipDescendants(tx: SqlExecutor, failed: { run_id: string; ordinal: number; node_id: string }[]): Promise<{ run_id: string; count: number }[]> {
  const { rows } = await tx.query<{ run_id: string; count: number }>(
    `with recursive down(run_id, ordinal, root) as (
       select n.run_id, c.child, f.node_id
         from jsonb_to_recordset($1::jsonb) as f(run_id text, ordinal integer, node_id text)
         join dag_nodes n on n.run_id = f.run_id and n.ordinal = f.ordinal
         cross join lateral unnest(n.children) as c(child)
       union
       select n.run_id, c.child, down.root
         from down join dag_nodes n on n.run_id = down.run_id and n.ordinal = down.ordinal
         cross join lateral unnest(n.children) as c(child)
     ),
     first as (select distinct on (run_id, ordinal) run_id, ordinal, root from down order by run_id, ordinal, root),
     skipped as (
       update dag_nodes n set status = 'skipped', error = 'skipped: upstream node "' || first.root || '" failed', finished_at = now()
         from first where n.run_id = first.run_id and n.ordinal = first.ordinal and n.status = 'pending'
       returning n.run_id
     )
     select run_id, count(*)::integer as count from skipped group by run_id`,
    [JSON.stringify(failed.map((f) => ({ run_id: f.run_id, ordinal: f.ordinal, node_id: f.node_id })))],
  );
  return rows;
}

/** Extends the leases this replica holds; returns the runs among them that were cancelled. */
export async function heartbeat(sql: SqlPort, owner: string, leaseMs: number): Promise<string[]> {
  const { rows } = await sql.query<{ run_id: string; status: string }>(
    `with held as (
       update dag_nodes set lease_expires = now() + $2 * interval '1 millisecond'
        where lease_owner = $1 and status = 'running'
       returning run_id
     )
     select distinct r.id as run_id, r.status from held join dag_runs r on r.id = held.run_id where r.status = 'cancelled'`,
    [owner, leaseMs],
  );
  return rows.map((r) => r.run_id);
}

/**
 * Nodes whose lease lapsed (their replica died) go back to pending, keeping the attempt
 * they used and counting the interruption, or to cancelled in a cancelled run. `all` takes
 * every running node back: on the embedded database, whose one process has just started,
 * they are all orphans (a clean stop gives its nodes back first, uncounted).
 */
export async function reclaimLapsed(sql: SqlPort, all: boolean): Promise<string[]> {
  const { rows } = await sql.query<{ run_id: string }>(
    `update dag_nodes n
        set status = case when r.status = 'cancelled' then 'cancelled' else 'pending' end,
            finished_at = case when r.status = 'cancelled' then now() else null end,
            interruptions = n.interruptions + 1,
            lease_owner = null, lease_expires = null
       from dag_runs r
      where r.id = n.run_id and n.status = 'running' and ($1::boolean or n.lease_expires < now())
     returning n.run_id`,
    [all],
  );
  return [...new Set(rows.map((r) => r.run_id))];
}

/** On shutdown: this replica's running nodes go back to pending without using up an attempt. */
export async function releaseOwned(sql: SqlPort, owner: string): Promise<void> {
  await sql.query(
    `update dag_nodes set status = 'pending', attempts = greatest(attempts - 1, 0), lease_owner = null, lease_expires = null
      where lease_owner = $1 and status = 'running'`,
    [owner],
  );
}

export async function recordAttempt(sql: SqlPort, owner: string, runId: string, ordinal: number, attempts: number): Promise<void> {
  await sql.query('update dag_nodes set attempts = $4 where run_id = $2 and ordinal = $3 and lease_owner = $1 and status = $5', [owner, runId, ordinal, attempts, 'running']);
}

/** Which of these runs were cancelled: primary-key look-ups, cheap enough to ask twice a second. */
export async function cancelledAmong(sql: SqlPort, runIds: readonly string[]): Promise<string[]> {
  const { rows } = await sql.query<{ id: string }>(`select id from dag_runs where id = any($1::text[]) and status = 'cancelled'`, [runIds]);
  return rows.map((r) => r.id);
}

/** Runs whose nodes have all finished but that were never closed: the process stopped between the two writes. */
export async function unclosedRuns(sql: SqlPort): Promise<RunRow[]> {
  const { rows } = await sql.query<RunRow>(`select ${RUN_COLUMNS} from dag_runs where status in ('queued', 'running') and remaining <= 0`);
  return rows;
}
