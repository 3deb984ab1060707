/*
 * dag/builtins
 * ============
 * Actions every workflow can use besides the operations: noop, delay, fail, transform and
 * http_request. http_request is off unless DAG_engine.settings.httpAllowedHosts lists
 * hosts; it does not follow redirects (a redirect could leave the allowlist) and reads at
 * most 1 MiB of the response.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { invalidInput } from '../../errors.js';
import { formatIssues } from '../../zod-issues.js';

/** A failure that says whether trying again could help. */
export class ActionFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'ActionFailure';
  }
}

export const BUILTIN_ACTIONS = ['noop', 'delay', 'fail', 'transform', 'http_request'] as const;
export type BuiltinAction = (typeof BUILTIN_ACTIONS)[number];

/**
 * Builtins that only compute from their input and finish at once: the scheduler runs them
 * in the transaction that finds them ready (no lease, no executor slot, no round trip per
 * node), since a lease and a slot would cost far more than the action itself.
 */
export const INLINE_ACTIONS = ['noop', 'transform'] as const satisfies readonly BuiltinAction[];

/** The output of an inline action: the evaluated input for transform, null for noop. */
export function runInline(action: string, input: unknown): unknown {
  return action === 'transform' ? (input ?? null) : null;
}

export function isBuiltin(name: string): name is BuiltinAction {
  return (BUILTIN_ACTIONS as readonly string[]).includes(name);
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

const delayInput = z.strictObject({ ms: z.number().int().min(0).max(3_600_000) });
const failInput = z.strictObject({ message: z.string().max(2000).optional() }).optional();
const httpInput = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']).default('GET'),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.unknown().optional(),
});

function parse<S extends z.ZodType>(action: string, schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw invalidInput(`${action} input: ${formatIssues(parsed.error.issues).join('; ')}`);
  return parsed.data;
}

export interface BuiltinSettings {
  /** Host names http_request may reach; "*.example.com" matches subdomains. Empty: http_request is off. */
  httpAllowedHosts: readonly string[];
}

export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowed.some((entry) => {
    const e = entry.toLowerCase();
    return e.startsWith('*.') ? h.endsWith(e.slice(1)) : h === e;
  });
}

export async function runBuiltin(action: BuiltinAction, input: unknown, signal: AbortSignal, settings: BuiltinSettings): Promise<unknown> {
  switch (action) {
    case 'noop':
      return null;
    case 'transform':
      return input ?? null;
    case 'delay': {
      const { ms } = parse('delay', delayInput, input);
      await sleep(ms, undefined, { signal });
      return { ms };
    }
    case 'fail':
      throw new ActionFailure(parse('fail', failInput, input)?.message ?? 'failed by the fail action', true);
    case 'http_request':
      return httpRequest(parse('http_request', httpInput, input), signal, settings);
  }
}

async function httpRequest(input: z.output<typeof httpInput>, signal: AbortSignal, settings: BuiltinSettings): Promise<unknown> {
  const url = new URL(input.url);
  if (settings.httpAllowedHosts.length === 0) {
    throw invalidInput('http_request is off: list the hosts it may reach in DAG_engine.settings.httpAllowedHosts (config/engine_map.yaml)');
  }
  if (!hostAllowed(url.hostname, settings.httpAllowedHosts)) {
    throw invalidInput(`http_request: host "${url.hostname}" is not in DAG_engine.settings.httpAllowedHosts (${settings.httpAllowedHosts.join(', ')})`);
  }
  const hasBody = input.body !== undefined && input.method !== 'GET' && input.method !== 'HEAD';
  const response = await fetch(url, {
    method: input.method,
    headers: { ...(hasBody && typeof input.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...input.headers },
    body: hasBody ? (typeof input.body === 'string' ? input.body : JSON.stringify(input.body)) : undefined,
    redirect: 'manual',
    signal,
  });
  const text = await readLimited(response);
  let body: unknown = text;
  if (/json/i.test(response.headers.get('content-type') ?? '')) {
    try {
      body = JSON.parse(text);
    } catch {
      // keep the text
    }
  }
  if (response.status >= 400) {
    throw new ActionFailure(`http_request: ${input.method} ${url.href} answered ${response.status}: ${text.slice(0, 200)}`, response.status === 429 || response.status >= 500);
  }
  return { status: response.status, headers: Object.fromEntries(response.headers), body };
}

async function readLimited(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_RESPONSE_BYTES) {
      await reader.cancel();
      throw new ActionFailure(`http_request: the response is larger than ${MAX_RESPONSE_BYTES} bytes`, false);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
