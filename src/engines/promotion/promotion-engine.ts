/*
 * promotion engine
 * ================
 * Controlled release of registry versions across environments (default dev → staging →
 * prod). A request runs the gates (order, schema, policy, taxonomy) at once; a request that
 * passes waits for its environment's approvals from distinct principals other than the
 * requester (four-eyes), then moves the environment alias in the registry, in the same
 * transaction as the last approval. Rollback moves it back to the version promoted before.
 *
 * Concurrency: the request row is locked (select ... for update) while it is decided, so two
 * racing approvers produce one promotion; every alias move takes a transaction-scoped
 * advisory lock on (artifact, environment), so promotions and rollbacks of one environment
 * serialize, across replicas too. Gates run before the transaction; inside it, what they
 * decided on is read again from SQL and share-locked until the commit (the yanked flag, the
 * policy-set revision, the schema binding), so a yank, policy change or schema change either
 * commits first and is seen, or waits. No cache takes part in a decision.
 */
import { randomUUID } from 'node:crypto';
import { conflict, EngineError, invalidInput, notFound } from '../../errors.js';
import type { Logger } from '../../platform/log.js';
import { isoTimestamp, type SqlExecutor, type SqlPort } from '../../platform/sql/sql-port.js';
import type { GovernanceEngine } from '../governance/governance-engine.js';
import type { Artifact, RegistryEngine } from '../registry/registry-engine.js';
import { TAXONOMY_LABEL, type TaxonomyEngine } from '../taxonomy/taxonomy-engine.js';
import { parseStructuredContent } from '../validation/structured-content.js';
import type { ValidationEngine } from '../validation/validation-engine.js';

export type GateName = 'order' | 'schema' | 'policy' | 'taxonomy';
export type RequestStatus = 'pending_approval' | 'promoted' | 'rejected' | 'expired';

export interface EnvironmentRule {
  name: string;
  approvals: number;
  gates: readonly Exclude<GateName, 'order'>[];
}

export interface PromotionSettings {
  approvalRequired: boolean;
  requestTtlHours: number;
  environments: readonly EnvironmentRule[];
}

export interface GateResult {
  gate: GateName;
  passed: boolean;
  messages: string[];
}

export interface PromotionRequest {
  requestId: string;
  name: string;
  version: string;
  environment: string;
  reason: string;
  requestedBy: string;
  status: RequestStatus;
  approvalsRequired: number;
  approvals: { by: string; decision: 'approve' | 'reject'; comment: string | null; at: string }[];
  gates: GateResult[];
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  comment: string | null;
}

export interface PromotionEvent {
  seq: number;
  environment: string;
  action: 'promote' | 'rollback';
  version: string;
  previousVersion: string | null;
  requestId: string | null;
  actor: string;
  at: string;
}

interface RequestRow {
  id: string;
  name: string;
  version: string;
  environment: string;
  reason: string;
  requested_by: string;
  status: RequestStatus;
  approvals_required: number;
  gates: GateResult[];
  created_at: Date | string;
  expires_at: Date | string;
  decided_at: Date | string | null;
  decided_by: string | null;
  comment: string | null;
}

interface EventRow {
  seq: number;
  environment: string;
  action: 'promote' | 'rollback';
  version: string;
  previous_version: string | null;
  request_id: string | null;
  actor: string;
  at: Date | string;
}


function toEvent(row: EventRow): PromotionEvent {
  return {
    seq: row.seq,
    environment: row.environment,
    action: row.action,
    version: row.version,
    previousVersion: row.previous_version,
    requestId: row.request_id,
    actor: row.actor,
    at: isoTimestamp(row.at)!,
  };
}

export class PromotionEngine {
  constructor(
    private readonly sql: SqlPort,
    private readonly registry: RegistryEngine,
    private readonly validation: ValidationEngine,
    private readonly governance: GovernanceEngine,
    private readonly taxonomy: TaxonomyEngine,
    private readonly settings: PromotionSettings,
    private readonly log: Logger,
  ) {}

  private rule(environment: string): { rule: EnvironmentRule; previous?: EnvironmentRule } {
    const index = this.settings.environments.findIndex((e) => e.name === environment);
    if (index === -1) {
      throw invalidInput(`environment: unknown "${environment}"; configured environments, in order: ${this.settings.environments.map((e) => e.name).join(', ')}`);
    }
    return { rule: this.settings.environments[index]!, previous: this.settings.environments[index - 1] };
  }

  private approvalsFor(rule: EnvironmentRule): number {
    return this.settings.approvalRequired ? rule.approvals : 0;
  }

  async request(input: { name: string; version: string; environment: string; reason: string }, principal: { id: string; scopes: readonly string[] }): Promise<PromotionRequest> {
    const { rule, previous } = this.rule(input.environment);
    const artifact = await this.registry.getVersion(input.name, input.version);
    if (artifact.yanked) {
      throw conflict(`${input.name}@${input.version} is yanked (${artifact.yankReason ?? 'no reason given'}) and cannot be promoted; publish and promote a fixed version`);
    }
    // Re-promoting what an environment has would cost its approvals and change nothing.
    if (artifact.aliases.includes(input.environment)) {
      throw conflict(`${input.name}@${input.version} is already the version in ${input.environment}; there is nothing to promote (promotion_history shows its moves)`);
    }
    const gates: GateResult[] = [await this.orderGate(artifact, previous)];
    let policyRevision: number | undefined;
    let binding: { seen: { schemaId: string; revision: number } | undefined } | undefined;
    for (const gate of rule.gates) {
      if (gate === 'schema') {
        const schema = await this.schemaGate(artifact);
        if (schema.result.passed) binding = { seen: schema.seen };
        gates.push(schema.result);
      }
      if (gate === 'policy') {
        const policy = await this.policyGate(artifact, input, principal);
        policyRevision = policy.revision;
        gates.push(policy.result);
      }
      if (gate === 'taxonomy') gates.push(this.taxonomyGate(artifact));
    }
    const passed = gates.every((g) => g.passed);
    const required = this.approvalsFor(rule);
    const id = randomUUID();
    await this.sql.transaction(async (tx) => {
      // The gates ran outside this transaction: what can have changed since is read again here,
      // share-locked so that a yank or a policy change waits until this request is stored.
      // The alias lock comes first, in the order rollback takes them.
      if (passed && required === 0) await this.lockAlias(tx, input.name, input.environment);
      const state = await this.registry.lockedYankState(tx, input.name, input.version);
      if (state?.yanked) {
        throw conflict(`${input.name}@${input.version} is yanked (${state.yankReason ?? 'no reason given'}) and cannot be promoted; publish and promote a fixed version`);
      }
      if (passed && binding) await this.validation.confirmBinding(tx, artifact.mediaType, binding.seen);
      if (policyRevision !== undefined) {
        const now = await this.governance.lockedRevision(tx);
        if (now !== policyRevision) {
          throw conflict(`the policy set changed while this request's gates ran (revision ${policyRevision}, now ${now}); request the promotion again to check it against the current policies`);
        }
      }
      await tx.query(
        `insert into promotion_requests (id, name, version, environment, reason, requested_by, status, approvals_required, gates, expires_at, decided_at, decided_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(hours => $10), case when $7 = 'rejected' then now() end, case when $7 = 'rejected' then 'gates' end)`,
        [id, input.name, input.version, input.environment, input.reason, principal.id, passed ? 'pending_approval' : 'rejected', required, JSON.stringify(gates), this.settings.requestTtlHours],
      );
      if (passed && required === 0) await this.promoteIn(tx, id, input.name, input.version, input.environment, principal.id);
    });
    this.log.info({ requestId: id, artifact: `${input.name}@${input.version}`, environment: input.environment, passed, principal: principal.id }, 'promotion requested');
    return this.status(id);
  }

  async approve(requestId: string, principal: string, comment: string | undefined): Promise<PromotionRequest> {
    await this.expireStale();
    await this.sql.transaction(async (tx) => {
      const request = await this.lockPending(tx, requestId, principal, 'approve');
      // Alias lock, then the version's row: the order of every alias move (see rollback).
      await this.lockAlias(tx, request.name, request.environment);
      const state = await this.registry.lockedYankState(tx, request.name, request.version);
      if (state?.yanked) {
        throw conflict(`${request.name}@${request.version} was yanked (${state.yankReason ?? 'no reason given'}) after this request was made; it cannot be promoted, reject the request`);
      }
      await tx.query(`insert into promotion_approvals (request_id, approver, decision, comment) values ($1, $2, 'approve', $3)`, [requestId, principal, comment ?? null]);
      const { rows } = await tx.query<{ n: number }>(`select count(*)::int as n from promotion_approvals where request_id = $1 and decision = 'approve'`, [requestId]);
      if (rows[0]!.n < request.approvals_required) return;
      await this.promoteIn(tx, requestId, request.name, request.version, request.environment, principal);
    });
    return this.status(requestId);
  }

  async reject(requestId: string, principal: string, comment: string): Promise<PromotionRequest> {
    await this.expireStale();
    await this.sql.transaction(async (tx) => {
      await this.lockPending(tx, requestId, principal, 'reject');
      await tx.query(`insert into promotion_approvals (request_id, approver, decision, comment) values ($1, $2, 'reject', $3)`, [requestId, principal, comment]);
      await tx.query(`update promotion_requests set status = 'rejected', decided_at = now(), decided_by = $2, comment = $3 where id = $1`, [requestId, principal, comment]);
    });
    this.log.info({ requestId, principal }, 'promotion rejected');
    return this.status(requestId);
  }

  async status(requestId: string): Promise<PromotionRequest> {
    await this.expireStale();
    const { rows } = await this.sql.query<RequestRow>('select * from promotion_requests where id = $1', [requestId]);
    const row = rows[0];
    if (!row) throw notFound(`no promotion request ${requestId} (promotion_history lists an artifact's requests)`);
    const { rows: approvals } = await this.sql.query<{ approver: string; decision: 'approve' | 'reject'; comment: string | null; at: Date | string }>(
      'select approver, decision, comment, at from promotion_approvals where request_id = $1 order by at',
      [requestId],
    );
    return {
      requestId: row.id,
      name: row.name,
      version: row.version,
      environment: row.environment,
      reason: row.reason,
      requestedBy: row.requested_by,
      status: row.status,
      approvalsRequired: row.approvals_required,
      approvals: approvals.map((a) => ({ by: a.approver, decision: a.decision, comment: a.comment, at: isoTimestamp(a.at)! })),
      gates: row.gates,
      createdAt: isoTimestamp(row.created_at)!,
      expiresAt: isoTimestamp(row.expires_at)!,
      decidedAt: isoTimestamp(row.decided_at),
      decidedBy: row.decided_by,
      comment: row.comment,
    };
  }

  /** Alias moves (promotions and rollbacks) of an artifact, newest first. */
  async history(name: string, environment: string | undefined, limit: number): Promise<PromotionEvent[]> {
    if (environment) this.rule(environment);
    const { rows } = await this.sql.query<EventRow>(
      `select seq, environment, action, version, previous_version, request_id, actor, at from promotion_events
       where name = $1 and ($2::text is null or environment = $2) order by seq desc limit $3`,
      [name, environment ?? null, limit],
    );
    return rows.map(toEvent);
  }

  /** Requests awaiting approval, oldest first (the approvals inbox), optionally for one environment. */
  async pending(environment: string | undefined, limit: number): Promise<PromotionRequest[]> {
    if (environment) this.rule(environment);
    await this.expireStale();
    const { rows } = await this.sql.query<{ id: string }>(
      `select id from promotion_requests where status = 'pending_approval' and ($1::text is null or environment = $1) order by created_at, id limit $2`,
      [environment ?? null, limit],
    );
    const requests: PromotionRequest[] = [];
    for (const row of rows) requests.push(await this.status(row.id));
    return requests;
  }

  /** Requests of an artifact, newest first (for the review prompt). */
  async requests(name: string, limit: number): Promise<{ requestId: string; version: string; environment: string; status: RequestStatus; requestedBy: string; createdAt: string }[]> {
    const { rows } = await this.sql.query<RequestRow>('select * from promotion_requests where name = $1 order by created_at desc limit $2', [name, limit]);
    return rows.map((r) => ({ requestId: r.id, version: r.version, environment: r.environment, status: r.status, requestedBy: r.requested_by, createdAt: isoTimestamp(r.created_at)! }));
  }

  /** Moves the alias back to the version promoted before the current one, undoing that promotion. */
  async rollback(name: string, environment: string, principal: string): Promise<PromotionEvent> {
    this.rule(environment);
    const event = await this.sql.transaction(async (tx) => {
      await this.lockAlias(tx, name, environment);
      const { rows } = await tx.query<EventRow & { rolled_back: boolean }>(
        `select * from promotion_events where name = $1 and environment = $2 and action = 'promote' and not rolled_back order by seq desc limit 2`,
        [name, environment],
      );
      const [current, before] = rows;
      if (!current) throw notFound(`${name} has never been promoted to ${environment}; there is nothing to roll back`);
      if (!before) throw conflict(`${name}@${current.version} is the only version promoted to ${environment}; there is no earlier version to roll back to`);
      if (before.version === current.version) {
        throw conflict(`${name}@${current.version} was promoted to ${environment} twice in a row; rolling back would leave it at the same version, so there is nothing to roll back`);
      }
      if ((await this.registry.lockedYankState(tx, name, before.version))?.yanked) throw conflict(`the previous version ${name}@${before.version} is yanked; promote a good version to ${environment} instead`);
      const previous = await this.registry.setAlias(tx, name, environment, before.version, principal);
      await tx.query('update promotion_events set rolled_back = true where seq = $1', [current.seq]);
      const { rows: inserted } = await tx.query<EventRow>(
        `insert into promotion_events (name, environment, action, version, previous_version, actor) values ($1, $2, 'rollback', $3, $4, $5)
         returning seq, environment, action, version, previous_version, request_id, actor, at`,
        [name, environment, before.version, previous, principal],
      );
      return toEvent(inserted[0]!);
    });
    this.log.info({ artifact: name, environment, version: event.version, from: event.previousVersion, principal }, 'promotion rolled back');
    return event;
  }

  private async expireStale(): Promise<void> {
    await this.sql.query(`update promotion_requests set status = 'expired', decided_at = expires_at, decided_by = 'ttl' where status = 'pending_approval' and expires_at < now()`);
  }

  private async lockPending(tx: SqlExecutor, requestId: string, principal: string, verb: 'approve' | 'reject'): Promise<RequestRow> {
    const { rows } = await tx.query<RequestRow>('select * from promotion_requests where id = $1 for update', [requestId]);
    const request = rows[0];
    if (!request) throw notFound(`no promotion request ${requestId} (promotion_history lists an artifact's requests)`);
    if (request.status !== 'pending_approval') {
      const when = request.status === 'expired' ? ` at ${isoTimestamp(request.expires_at)}; request the promotion again` : '';
      throw conflict(`request ${requestId} is ${request.status.replace('_', ' ')}${when}; only pending requests can be decided`);
    }
    if (request.requested_by === principal) {
      throw new EngineError('FORBIDDEN', `four-eyes rule: ${principal} requested this promotion and cannot ${verb} it; another approver must`);
    }
    const { rows: earlier } = await tx.query('select 1 from promotion_approvals where request_id = $1 and approver = $2', [requestId, principal]);
    if (earlier.length > 0) throw conflict(`${principal} has already approved request ${requestId}; approvals must come from distinct principals`);
    return request;
  }

  private async lockAlias(tx: SqlExecutor, name: string, environment: string): Promise<void> {
    await tx.query(`select pg_advisory_xact_lock(hashtext('promotion:' || $1 || '@' || $2))`, [name, environment]);
  }

  private async promoteIn(tx: SqlExecutor, requestId: string, name: string, version: string, environment: string, actor: string): Promise<void> {
    await this.lockAlias(tx, name, environment);
    const previous = await this.registry.setAlias(tx, name, environment, version, actor);
    // Another request moved the same version there since this one was made: undone with the transaction.
    if (previous === version) throw conflict(`${name}@${version} is already the version in ${environment} (promoted by another request); reject this request`);
    await tx.query(`insert into promotion_events (name, environment, action, version, previous_version, request_id, actor) values ($1, $2, 'promote', $3, $4, $5, $6)`, [
      name,
      environment,
      version,
      previous,
      requestId,
      actor,
    ]);
    await tx.query(`update promotion_requests set status = 'promoted', decided_at = now(), decided_by = $2 where id = $1`, [requestId, actor]);
  }

  private async orderGate(artifact: Artifact, previous: EnvironmentRule | undefined): Promise<GateResult> {
    if (!previous) return { gate: 'order', passed: true, messages: ['first environment: any published version may enter'] };
    const { rows } = await this.sql.query(`select 1 from promotion_events where name = $1 and environment = $2 and version = $3 and action = 'promote' limit 1`, [
      artifact.name,
      previous.name,
      artifact.version,
    ]);
    return rows.length > 0
      ? { gate: 'order', passed: true, messages: [`was promoted to ${previous.name}`] }
      : { gate: 'order', passed: false, messages: [`${artifact.name}@${artifact.version} has not been promoted to ${previous.name}; promote it there first`] };
  }

  private async schemaGate(artifact: Artifact): Promise<{ result: GateResult; seen?: { schemaId: string; revision: number } }> {
    try {
      const result = await this.validation.validateForMediaType(artifact.mediaType, () => parseStructuredContent(artifact.mediaType, artifact.content, 'content'));
      if (!result) return { result: { gate: 'schema', passed: true, messages: [`no schema is bound to ${artifact.mediaType}`] } };
      const seen = { schemaId: result.schemaId, revision: result.revision };
      if (result.valid) return { result: { gate: 'schema', passed: true, messages: [`content matches schema "${result.schemaId}"`] }, seen };
      return { result: { gate: 'schema', passed: false, messages: result.errors.map((e) => `schema "${result.schemaId}": ${e.pointer}: ${e.message}`) }, seen };
    } catch (error) {
      if (error instanceof EngineError && error.code === 'INVALID_INPUT') return { result: { gate: 'schema', passed: false, messages: [error.message] } };
      throw error;
    }
  }

  private async policyGate(
    artifact: Artifact,
    input: { environment: string; reason: string },
    principal: { id: string; scopes: readonly string[] },
  ): Promise<{ result: GateResult; revision: number }> {
    const decision = await this.governance.check('promotion', {
      principal: { id: principal.id, scopes: principal.scopes },
      action: 'promotion_request',
      artifact: {
        name: artifact.name,
        version: artifact.version,
        digest: artifact.digest,
        mediaType: artifact.mediaType,
        labels: artifact.labels,
        metadata: artifact.metadata,
        createdBy: artifact.createdBy,
      },
      environment: input.environment,
      request: { reason: input.reason },
    });
    const messages = [
      ...decision.violations.map((v) => `denied by ${v.policy}: ${v.message}`),
      ...decision.warnings.map((w) => `warning from ${w.policy}: ${w.message}`),
      `decision ${decision.decisionId}`,
    ];
    return { result: { gate: 'policy', passed: decision.allow, messages }, revision: decision.policyRevision };
  }

  private taxonomyGate(artifact: Artifact): GateResult {
    const declared = artifact.labels[TAXONOMY_LABEL];
    if (declared === undefined) return { gate: 'taxonomy', passed: true, messages: [`declares no class (label "${TAXONOMY_LABEL}")`] };
    try {
      const concepts = this.taxonomy.checkDeclared(declared);
      return { gate: 'taxonomy', passed: true, messages: [`classes: ${concepts.map((c) => c.label).join(', ')}`] };
    } catch (error) {
      return { gate: 'taxonomy', passed: false, messages: [(error as Error).message] };
    }
  }
}
