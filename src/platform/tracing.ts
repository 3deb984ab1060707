/*
 * Tracing API
 * ===========
 * The one module the rest of the code uses for traces: run a function inside a span
 * (`withSpan`), read the active trace id (`currentTraceId`, for log lines and audit records),
 * and carry the active context across a hop that loses it (`captureContext` +
 * `runInContext`, for the DAG engine handing node executions to the executor).
 *
 * It imports nothing from OpenTelemetry at run time. When OTEL_EXPORTER_OTLP_ENDPOINT is
 * unset nothing installs the API, and every function here is a direct call: no SDK is
 * loaded, no span object is made, start-up stays as fast as without tracing. When it is
 * set, tracing-sdk.ts starts the SDK and hands the API to `installTracing`.
 */
import type * as OtelApi from '@opentelemetry/api';

type Api = typeof OtelApi;
export type AttributeValue = string | number | boolean | readonly string[] | readonly number[];
export type Attributes = Record<string, AttributeValue | undefined>;
/** Span kinds by name, so callers need not import OpenTelemetry's enum. */
export type SpanKindName = 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** The part of a span a caller may touch while its function runs. */
export interface SpanHandle {
  setAttribute(key: string, value: AttributeValue): void;
  /** Marks the span failed without an exception (an `isError` result, a denied call). */
  setError(message: string): void;
}

/** A context captured with `captureContext`; opaque to callers. */
export interface CapturedContext {
  readonly captured: unknown;
}

const NOOP_SPAN: SpanHandle = { setAttribute() {}, setError() {} };
const EMPTY_CONTEXT: CapturedContext = { captured: undefined };
const TRACER_NAME = 'mcp-level3';

let api: Api | undefined;
let tracer: OtelApi.Tracer | undefined;
let shutdown: (() => Promise<void>) | undefined;

/** Called once by tracing-sdk.ts after the SDK has started. */
export function installTracing(otel: Api, stop: () => Promise<void>, version?: string): void {
  api = otel;
  tracer = otel.trace.getTracer(TRACER_NAME, version);
  shutdown = stop;
}

/** Whether the environment asks for traces: an OTLP endpoint is set and the SDK is not disabled. */
export function tracingRequested(env: Record<string, string | undefined>): boolean {
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export function tracingEnabled(): boolean {
  return api !== undefined;
}

/** Flushes spans still buffered and stops the exporter; a no-op when tracing is off. */
export async function shutdownTracing(): Promise<void> {
  const stop = shutdown;
  api = undefined;
  tracer = undefined;
  shutdown = undefined;
  await stop?.();
}

function definedAttributes(attributes: Attributes | undefined): OtelApi.Attributes | undefined {
  if (!attributes) return undefined;
  const out: OtelApi.Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value as OtelApi.AttributeValue;
  return out;
}

const KINDS: Record<SpanKindName, number> = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 };

export interface SpanOptions {
  kind?: SpanKindName;
  /** Parent to use instead of the active context (a captured one, or one extracted from a carrier). */
  parent?: CapturedContext;
  /** Only trace when there is a parent span (driver-level spans: no trace per background query). */
  requireParent?: boolean;
}

/**
 * Runs fn inside a new span, child of the active one (or of options.parent). The span ends
 * when fn settles; a thrown error is recorded on it and rethrown.
 */
export async function withSpan<T>(name: string, attributes: Attributes | undefined, fn: (span: SpanHandle) => Promise<T> | T, options: SpanOptions = {}): Promise<T> {
  if (!api || !tracer) return fn(NOOP_SPAN);
  const otel = api;
  const parent = (options.parent?.captured as OtelApi.Context | undefined) ?? otel.context.active();
  if (options.requireParent && !otel.trace.getSpanContext(parent)) return fn(NOOP_SPAN);
  const span = tracer.startSpan(name, { kind: KINDS[options.kind ?? 'internal'], attributes: definedAttributes(attributes) }, parent);
  const handle: SpanHandle = {
    setAttribute: (key, value) => span.setAttribute(key, value as OtelApi.AttributeValue),
    setError: (message) => span.setStatus({ code: otel.SpanStatusCode.ERROR, message }),
  };
  try {
    return await otel.context.with(otel.trace.setSpan(parent, span), () => fn(handle));
  } catch (error) {
    span.recordException(error as Error);
    span.setStatus({ code: otel.SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
  }
}

/** The active trace id (32 hex digits), or undefined outside a sampled span or with tracing off. */
export function currentTraceId(): string | undefined {
  if (!api) return undefined;
  const context = api.trace.getSpanContext(api.context.active());
  return context && api.isSpanContextValid(context) ? context.traceId : undefined;
}

/** The active span id (16 hex digits), or undefined. */
export function currentSpanId(): string | undefined {
  if (!api) return undefined;
  const context = api.trace.getSpanContext(api.context.active());
  return context && api.isSpanContextValid(context) ? context.spanId : undefined;
}

/**
 * Captures the active context, to be restored later with runInContext: spans started there
 * become children of the span active now, even after a queue, a timer or a restart-free
 * hand-off to another component lost the async context.
 */
export function captureContext(): CapturedContext {
  return api ? { captured: api.context.active() } : EMPTY_CONTEXT;
}

/** Runs fn with a captured context active (see captureContext). */
export function runInContext<T>(captured: CapturedContext, fn: () => T): T {
  if (!api || captured.captured === undefined) return fn();
  return api.context.with(captured.captured as OtelApi.Context, fn);
}

/**
 * The context carried by W3C trace-context fields (`traceparent`, `tracestate`) in a plain
 * object, such as MCP's `params._meta`; undefined when it carries none or tracing is off.
 */
export function contextFromCarrier(carrier: Record<string, unknown> | undefined): CapturedContext | undefined {
  if (!api || !carrier || typeof carrier.traceparent !== 'string') return undefined;
  const getter: OtelApi.TextMapGetter<Record<string, unknown>> = {
    keys: (c) => Object.keys(c),
    get: (c, key) => (typeof c[key] === 'string' ? (c[key] as string) : undefined),
  };
  return { captured: api.propagation.extract(api.context.active(), carrier, getter) };
}
