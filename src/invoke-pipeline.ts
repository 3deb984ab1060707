/*
 * The invoke path
 * ===============
 * Every call reaches an engine through here, whichever surface it came by: a tool call
 * (MCP, REST, JSON-RPC, a DAG node), a resource read or list, a prompt get, a completion or
 * a subscription. One span; then validation, the scope check, the policies of the
 * operation the call is governed as, an audit intent for calls that write, the handler,
 * metrics, and the outcome record. The audit fails closed: a call whose record cannot be
 * written fails, and a writing call whose intent cannot be written does not run.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { ENGINE_NAMES } from './engines/engine-names.js';
import type { Engines } from './engines/engines.js';
import type { AuditEntry, AuditSurface } from './engines/governance/audit-log.js';
import { EngineError, invalidInput, isEngineError } from './errors.js';
import type { Logger } from './platform/log.js';
import type { Metrics } from './platform/metrics.js';
import { currentTraceId, withSpan } from './platform/tracing.js';
import type { InvokeAs, SurfaceContext } from './surface/access.js';
import { hasScope, type AnyOperation, type EngineId, type Principal, type SampleModel } from './surface/operation.js';
import { rejectUnknownArguments } from './surface/unknown-arguments.js';
import { formatIssues } from './zod-issues.js';

export interface CallContext {
  principal: Principal;
  signal?: AbortSignal;
  progress?: (progress: number, total?: number, message?: string) => Promise<void>;
  /** W3C trace id of the caller's trace, when it sent one; kept in the audit record. */
  traceId?: string;
  sample?: SampleModel;
}

/** One call on one surface, described for the path. */
export interface Invocation<P, T> {
  surface: AuditSurface;
  /** Tool, resource template or prompt name. */
  name: string;
  engine: EngineId;
  scope: string;
  /** The resource URI or prompt name, for the audit record. */
  resource?: string;
  /** What the caller sent, recorded per auditLevel. */
  arguments: unknown;
  /** Leaves an audit intent before the work, so an interrupted call still shows. */
  writes: boolean;
  /** Validates what the caller sent; throws INVALID_INPUT. */
  parse(): P;
  /** The operation whose policies govern the call, and the input they see; none for lists. */
  policy?(parsed: P): { operation: string; input: unknown };
  work(parsed: P, scope: { engines: Engines; log: Logger; surface: SurfaceContext }): Promise<T>;
}

export interface InvokePipelineDeps {
  engines(): Promise<Engines>;
  /** The registry is made on first use (App.metrics), so it is asked for when a call counts. */
  metrics: () => Metrics;
  log(engine: EngineId): Logger;
  /** This process, in audit intents: its intents are interrupted only once it stops beating. */
  instance: string;
}

type Outcome = AuditEntry['outcome'];

export class InvokePipeline {
  constructor(private readonly deps: InvokePipelineDeps) {}

  /** Runs one operation for a caller; throws EngineError with a message that says what to change. */
  invoke<O extends AnyOperation>(operation: O, args: unknown, call: CallContext): Promise<z.output<O['output']>> {
    return this.run(
      {
        surface: 'tool',
        name: operation.name,
        engine: operation.engine,
        scope: operation.scope,
        arguments: args,
        writes: !operation.annotations.readOnlyHint,
        parse: () => parseInput(operation, args),
        policy: (input) => ({ operation: operation.name, input }),
        work: (input, { engines, log }) => this.handle(operation, input, engines, log, call),
      },
      call,
    );
  }

  /** Runs a call on any surface through the whole path. */
  run<P, T>(invocation: Invocation<P, T>, call: CallContext): Promise<T> {
    // One span per call: the SQL, cache and HTTP spans of its work become its children.
    const attributes = {
      'mcp_level3.surface': invocation.surface,
      'mcp_level3.operation': invocation.name,
      'mcp_level3.engine': ENGINE_NAMES[invocation.engine],
      'enduser.id': call.principal.id,
    };
    const spanName = invocation.surface === 'tool' ? `operation ${invocation.name}` : `${invocation.surface} ${invocation.name}`;
    return withSpan(spanName, attributes, async (span) => {
      const started = performance.now();
      const log = this.deps.log(invocation.engine);
      let outcome: Outcome = 'ok';
      let errorCode: string | undefined;
      let intentId: string | undefined;
      let result: T | undefined;
      let failure: EngineError | undefined;
      let engines: Engines | undefined;
      try {
        const parsed = invocation.parse();
        if (!hasScope(call.principal, invocation.scope)) {
          outcome = 'denied';
          log.warn({ audit: 'access-denied', surface: invocation.surface, operation: invocation.name, principal: call.principal.id, scope: invocation.scope }, 'access denied: missing scope');
          throw new EngineError('FORBIDDEN', `${invocation.name} needs the scope "${invocation.scope}", which principal "${call.principal.id}" does not have`);
        }
        engines = await this.deps.engines();
        const policy = invocation.policy?.(parsed);
        if (policy) await engines.governance.enforce(policy.operation, call.principal, policy.input);
        if (invocation.writes) intentId = await this.auditIntent(engines, invocation, call);
        result = await invocation.work(parsed, { engines, log, surface: this.surfaceContext(engines, call, log) });
      } catch (error) {
        failure = this.toEngineError(invocation.name, error, log);
        errorCode = failure.code;
        if (outcome === 'ok') outcome = failure.code === 'FORBIDDEN' ? 'denied' : 'error';
        span.setAttribute('error.type', failure.code);
      }
      const seconds = (performance.now() - started) / 1000;
      span.setAttribute('mcp_level3.outcome', outcome);
      this.countCall(invocation, outcome, seconds);
      if (log.isLevelEnabled('debug')) log.debug({ surface: invocation.surface, operation: invocation.name, principal: call.principal.id, outcome, ms: Math.round(seconds * 1000) }, 'operation');
      const entry: AuditEntry = {
        principal: call.principal.id,
        ...(call.principal.name ? { principalName: call.principal.name } : {}),
        operation: invocation.name,
        surface: invocation.surface,
        ...(invocation.resource ? { resource: invocation.resource } : {}),
        outcome,
        errorCode,
        durationMs: seconds * 1000,
        traceId: call.traceId ?? currentTraceId(),
        arguments: invocation.arguments,
      };
      await this.auditOutcome(entry, intentId, engines, log, failure === undefined);
      if (failure) throw failure;
      return result as T;
    });
  }

  /** The handler with validated input and checked output, and nothing else of the path. */
  private async handle<O extends AnyOperation>(operation: O, input: unknown, engines: Engines, log: Logger, call: CallContext): Promise<z.output<O['output']>> {
    const result = await operation.handler(input, {
      engines,
      principal: call.principal,
      signal: call.signal ?? new AbortController().signal,
      log,
      metrics: this.deps.metrics(),
      progress: call.progress ?? (async () => undefined),
      ...(call.sample ? { sample: call.sample } : {}),
    });
    const checked = operation.output.safeParse(result);
    if (!checked.success) {
      throw new Error(`${operation.name} produced output that breaks its own schema: ${formatIssues(checked.error.issues).join('; ')}`);
    }
    return checked.data as z.output<O['output']>;
  }

  private surfaceContext(engines: Engines, call: CallContext, log: Logger): SurfaceContext {
    const invoke: InvokeAs = (operation, args) => this.invoke(operation, args, { principal: call.principal, signal: call.signal, traceId: call.traceId });
    const handle: InvokeAs = async (operation, args) => this.handle(operation, parseInput(operation, args), engines, log, call);
    return { engines, principal: call.principal, invoke, handle };
  }

  private countCall(invocation: Invocation<unknown, unknown>, outcome: Outcome, seconds: number): void {
    const metrics = this.deps.metrics();
    if (invocation.surface === 'tool') {
      metrics.toolCallsTotal.inc({ tool: invocation.name, outcome });
      metrics.toolDuration.observe({ tool: invocation.name }, seconds);
    } else {
      metrics.surfaceCallsTotal.inc({ surface: invocation.surface, name: invocation.name, outcome });
    }
  }

  private async auditIntent(engines: Engines, invocation: Invocation<unknown, unknown>, call: CallContext): Promise<string> {
    try {
      return await engines.governance.audit.begin(
        {
          principal: call.principal.id,
          ...(call.principal.name ? { principalName: call.principal.name } : {}),
          operation: invocation.name,
          surface: invocation.surface,
          ...(invocation.resource ? { resource: invocation.resource } : {}),
          traceId: call.traceId ?? currentTraceId(),
          arguments: invocation.arguments,
        },
        this.deps.instance,
      );
    } catch (error) {
      throw new EngineError('UNAVAILABLE', `${invocation.name} was not run: its audit record could not be written (${(error as Error).message}); retry shortly`);
    }
  }

  /**
   * Appends the outcome record (removing the intent). When that fails, a call that had
   * succeeded is reported as failed: nothing is acknowledged unaudited. Its intent, if any,
   * stays and is recorded as interrupted later.
   */
  private async auditOutcome(entry: AuditEntry, intentId: string | undefined, engines: Engines | undefined, log: Logger, succeeded: boolean): Promise<void> {
    try {
      const governance = (engines ?? (await this.deps.engines())).governance;
      await governance.audit.append(entry, intentId);
      this.deps.metrics().auditRecordsTotal.inc();
    } catch (error) {
      log.error({ operation: entry.operation, principal: entry.principal, err: (error as Error).message }, 'audit record could not be written');
      if (succeeded) throw new EngineError('UNAVAILABLE', `${entry.operation} ran, but its audit record could not be written (${(error as Error).message}); its result is withheld: check the outcome and retry`);
    }
  }

  private toEngineError(name: string, error: unknown, log: Logger): EngineError {
    if (isEngineError(error)) return error;
    const reference = randomUUID();
    log.error({ operation: name, reference, err: error }, 'operation failed unexpectedly');
    return new EngineError('INTERNAL', `${name} failed unexpectedly (reference ${reference}); the server log has the details`);
  }
}

/**
 * A call refused before its input could be read (a malformed body, a wrong content type,
 * positional JSON-RPC params): it still passes the path, which audits it and rethrows.
 */
export function refusedInvocation(operation: AnyOperation, error: unknown, recorded: Record<string, unknown>): Invocation<never, never> {
  return {
    surface: 'tool',
    name: operation.name,
    engine: operation.engine,
    scope: operation.scope,
    arguments: recorded,
    writes: false,
    parse: () => {
      throw error;
    },
    work: () => Promise.reject(error),
  };
}

/** The operation's input, validated; INVALID_INPUT names each problem. */
export function parseInput<O extends AnyOperation>(operation: O, args: unknown): z.output<O['input']> {
  rejectUnknownArguments(operation.input, args);
  const parsed = operation.input.safeParse(args ?? {}, { reportInput: true });
  if (!parsed.success) throw invalidInput(formatIssues(parsed.error.issues).join('; '));
  return parsed.data as z.output<O['input']>;
}
