/*
 * governance engine
 * =================
 * Policies in CEL, evaluated with reasons, and the audit log. A policy applies to a target:
 * an operation name (it then gates every call of that operation) or `promotion` (a gate of
 * every promotion request). Every decision that any policy took part in is kept, with the
 * digest of its input and the revision of the policy set, like OPA's decision logs.
 *
 * Compiled policies are kept in memory per policy-set revision. The gate every call passes
 * (`enforce`, `permits`) trusts that set for up to policyRevisionMaxAgeMs before it reads the
 * one-row revision again, and drops it at once when a policy changes here or another replica
 * says so through the change-event bus (`policiesChanged`). Explicit checks (`check`, the
 * promotion gate) always read the revision, because their caller confirms it in its own
 * transaction (`lockedRevision`).
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { sha256Digest } from '../../platform/digest.js';
import stringify from 'safe-stable-stringify';
import { EngineError, invalidInput } from '../../errors.js';
import type { Logger } from '../../platform/log.js';
import { isoTimestamp, type SqlExecutor, type SqlPort } from '../../platform/sql/sql-port.js';
import { AuditLog, type AuditLevel } from './audit-log.js';
import type { CompiledPolicy, PolicyInput, PolicyLimits } from './cel-policy.js';

// The CEL evaluator loads on first use: most calls meet an empty policy set, and start-up
// (the first tool call) should not wait for it.
const celPolicy = () => import('./cel-policy.js');

export interface Policy {
  id: string;
  description: string;
  target: string;
  expression: string;
  effect: 'deny' | 'warn';
  message: string;
  revision: number;
  updatedAt: string;
  updatedBy: string;
}

export interface Finding {
  policy: string;
  message: string;
}

export interface Decision {
  decisionId: string;
  allow: boolean;
  violations: Finding[];
  warnings: Finding[];
  policyRevision: number;
}

interface PolicyRow {
  id: string;
  description: string;
  target: string;
  expression: string;
  effect: 'deny' | 'warn';
  message: string;
  revision: string | number;
  updated_at: Date | string;
  updated_by: string;
}

interface PolicySet {
  revision: number;
  byTarget: Map<string, { policy: Policy; evaluate: CompiledPolicy }[]>;
}

function toPolicy(row: PolicyRow): Policy {
  return {
    id: row.id,
    description: row.description,
    target: row.target,
    expression: row.expression,
    effect: row.effect,
    message: row.message,
    revision: Number(row.revision),
    updatedAt: isoTimestamp(row.updated_at),
    updatedBy: row.updated_by,
  };
}

export class GovernanceEngine {
  readonly audit: AuditLog;
  /** 'policies' when a policy changed through this process: the app tells the other replicas. */
  readonly events = new EventEmitter();
  private compiled?: PolicySet;
  /** When the compiled set's revision was last confirmed against SQL (performance.now()). */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private invalidatedAt = Number.NEGATIVE_INFINITY;
  private readonly limits: PolicyLimits;
  private readonly revisionMaxAgeMs: number;

  constructor(
    private readonly sql: SqlPort,
    settings: { auditLevel: AuditLevel; policyCostLimit?: number; policyTimeoutMs?: number; policyRevisionMaxAgeMs?: number },
    private readonly log: Logger,
    /** Field names recorded as "[redacted]" in the audit log (logging.redact). */
    redact?: readonly string[],
  ) {
    this.audit = new AuditLog(sql, settings.auditLevel, redact);
    this.limits = { costLimit: settings.policyCostLimit ?? 100_000, timeoutMs: settings.policyTimeoutMs ?? 200 };
    this.revisionMaxAgeMs = settings.policyRevisionMaxAgeMs ?? 1000;
  }

  /** A policy changed somewhere (here or on another replica): the next gate reads the revision again. */
  policiesChanged(): void {
    this.invalidatedAt = performance.now();
    this.confirmedAt = Number.NEGATIVE_INFINITY;
  }

  /**
   * Compiles first: an expression that does not compile is refused with its position, and
   * one whose estimated cost is over policyCostLimit with the estimate.
   */
  async setPolicy(input: Omit<Policy, 'revision' | 'updatedAt' | 'updatedBy'>, principal: string): Promise<Policy> {
    const { compile, PolicyCompileError } = await celPolicy();
    try {
      const { estimatedCost } = compile(input.expression, this.limits);
      if (estimatedCost > this.limits.costLimit) {
        throw invalidInput(
          `expression: its nested comprehensions take about ${estimatedCost.toLocaleString('en-US')} steps per evaluation, over the policyCostLimit of ${this.limits.costLimit.toLocaleString('en-US')} (governance.settings.policyCostLimit); iterate over smaller lists or nest fewer comprehensions`,
        );
      }
    } catch (error) {
      if (error instanceof PolicyCompileError) {
        throw invalidInput(`expression: ${error.message}`, { line: error.line, column: error.column });
      }
      throw error;
    }
    const policy = await this.sql.transaction(async (tx) => {
      const { rows: set } = await tx.query<{ revision: string | number }>('update governance_policy_set set revision = revision + 1 where id = 1 returning revision');
      const revision = Number(set[0]!.revision);
      const { rows } = await tx.query<PolicyRow>(
        `insert into governance_policies (id, description, target, expression, effect, message, revision, updated_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (id) do update set description = excluded.description, target = excluded.target, expression = excluded.expression,
           effect = excluded.effect, message = excluded.message, revision = excluded.revision, updated_at = now(), updated_by = excluded.updated_by
         returning *`,
        [input.id, input.description, input.target, input.expression, input.effect, input.message, revision, principal],
      );
      this.log.info({ policy: input.id, target: input.target, effect: input.effect, revision, principal }, 'policy set');
      return toPolicy(rows[0]!);
    });
    this.policiesChanged();
    this.events.emit('policies');
    return policy;
  }

  async policies(target?: string): Promise<Policy[]> {
    const { rows } = await this.sql.query<PolicyRow>('select * from governance_policies where ($1::text is null or target = $1) order by target, id', [target ?? null]);
    return rows.map(toPolicy);
  }

  /**
   * The policy-set revision, read inside the caller's transaction and share-locked until it
   * ends: a caller that decided on a revision confirms with this that no policy changed
   * before its change commits (setPolicy waits for the lock).
   */
  async lockedRevision(tx: SqlExecutor): Promise<number> {
    const { rows } = await tx.query<{ revision: string | number }>('select revision from governance_policy_set where id = 1 for share');
    return Number(rows[0]!.revision);
  }

  /** `fresh`: confirm the revision against SQL whatever its age. */
  private async policySet(fresh: boolean): Promise<PolicySet> {
    if (!fresh && this.compiled && performance.now() - this.confirmedAt < this.revisionMaxAgeMs) return this.compiled;
    const readAt = performance.now();
    const { rows } = await this.sql.query<{ revision: string | number }>('select revision from governance_policy_set where id = 1');
    const revision = Number(rows[0]!.revision);
    // A read that began before a change was announced may have seen the old revision.
    const confirm = () => {
      if (readAt > this.invalidatedAt) this.confirmedAt = readAt;
    };
    if (this.compiled?.revision === revision) {
      confirm();
      return this.compiled;
    }
    const byTarget: PolicySet['byTarget'] = new Map();
    const policies = await this.policies();
    const { compile } = policies.length > 0 ? await celPolicy() : { compile: undefined };
    for (const policy of policies) {
      const list = byTarget.get(policy.target) ?? [];
      list.push({ policy, evaluate: compile!(policy.expression, this.limits) });
      byTarget.set(policy.target, list);
    }
    this.compiled = { revision, byTarget };
    confirm();
    return this.compiled;
  }

  /**
   * Evaluates the target's policies and records the decision. A deny policy that cannot be
   * evaluated (a missing field, a type mismatch at run time) counts as a violation: a
   * policy that cannot say yes does not let the call through.
   */
  async check(target: string, input: PolicyInput, options: { record: 'always' | 'when-applicable' | 'never' } = { record: 'always' }): Promise<Decision> {
    return this.decide(target, await this.policySet(true), input, options.record);
  }

  private async decide(target: string, set: PolicySet, input: PolicyInput, record: 'always' | 'when-applicable' | 'never'): Promise<Decision> {
    const applicable = set.byTarget.get(target) ?? [];
    const violations: Finding[] = [];
    const warnings: Finding[] = [];
    for (const { policy, evaluate } of applicable) {
      const result = evaluate(input);
      if ('error' in result) {
        const finding = { policy: policy.id, message: `policy could not be evaluated: ${result.error}${result.overBudget ? '' : ' (use has() for optional fields)'}` };
        (policy.effect === 'deny' ? violations : warnings).push(finding);
      } else if (result.fired) {
        (policy.effect === 'deny' ? violations : warnings).push({ policy: policy.id, message: policy.message });
      }
    }
    const decision: Decision = { decisionId: randomUUID(), allow: violations.length === 0, violations, warnings, policyRevision: set.revision };
    if (record === 'always' || (record === 'when-applicable' && applicable.length > 0)) {
      await this.sql.query(
        `insert into governance_decisions (id, target, principal, input_digest, allow, violations, warnings, policy_revision)
         values ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          decision.decisionId,
          target,
          input.principal.id,
          sha256Digest(stringify(input) ?? ''),
          decision.allow,
          JSON.stringify(violations),
          JSON.stringify(warnings),
          decision.policyRevision,
        ],
      );
    }
    return decision;
  }

  /** The gate the invoke pipeline runs before a call, as the operation it is governed as: throws FORBIDDEN naming each violated policy. */
  async enforce(operation: string, principal: { id: string; scopes: readonly string[] }, args: unknown): Promise<void> {
    const decision = await this.gateDecision(operation, principal, args, 'when-applicable');
    if (!decision) return;
    if (decision.warnings.length > 0) this.log.warn({ operation, principal: principal.id, warnings: decision.warnings, decisionId: decision.decisionId }, 'policy warnings');
    if (!decision.allow) {
      throw new EngineError('FORBIDDEN', `${operation} denied by policy: ${formatFindings(decision.violations)} (decision ${decision.decisionId})`, {
        decisionId: decision.decisionId,
        violations: decision.violations,
      });
    }
  }

  /**
   * Whether the operation's policies would let this call through, recording nothing: what
   * completions use to offer only values the caller could read.
   */
  async permits(operation: string, principal: { id: string; scopes: readonly string[] }, args: unknown): Promise<boolean> {
    return (await this.gateDecision(operation, principal, args, 'never'))?.allow ?? true;
  }

  /** The call gate's decision on the (possibly cached) policy set; none when no policy targets the operation. */
  private async gateDecision(operation: string, principal: { id: string; scopes: readonly string[] }, args: unknown, record: 'when-applicable' | 'never'): Promise<Decision | undefined> {
    const set = await this.policySet(false);
    // Most operations have no policy: nothing to evaluate, record or build an input for.
    if (!set.byTarget.has(operation)) return undefined;
    return this.decide(operation, set, policyInputForCall(operation, principal, args), record);
  }

  async decision(id: string): Promise<(Decision & { target: string; principal: string; inputDigest: string; decidedAt: string }) | undefined> {
    const { rows } = await this.sql.query<{
      id: string;
      target: string;
      principal: string;
      input_digest: string;
      allow: boolean;
      violations: Finding[];
      warnings: Finding[];
      policy_revision: string | number;
      decided_at: Date | string;
    }>('select * from governance_decisions where id = $1', [id]);
    const row = rows[0];
    if (!row) return undefined;
    return {
      decisionId: row.id,
      target: row.target,
      principal: row.principal,
      inputDigest: row.input_digest,
      allow: row.allow,
      violations: row.violations,
      warnings: row.warnings,
      policyRevision: Number(row.policy_revision),
      decidedAt: isoTimestamp(row.decided_at),
    };
  }
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.policy}: ${f.message}`).join('; ');
}

/** What policies on an operation see of one call: its arguments, and the artifact and environment they name. */
export function policyInputForCall(operation: string, principal: { id: string; scopes: readonly string[] }, args: unknown): PolicyInput {
  const request = args && typeof args === 'object' && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
  const artifact: Record<string, unknown> = {};
  if (typeof request.name === 'string') artifact.name = request.name;
  if (typeof request.version === 'string') artifact.version = request.version;
  if (request.labels && typeof request.labels === 'object') artifact.labels = request.labels;
  return {
    principal: { id: principal.id, scopes: principal.scopes },
    action: operation,
    artifact,
    environment: typeof request.environment === 'string' ? request.environment : '',
    request,
  };
}
