/*
 * dag/builtins
 * ============
 * Actions every workflow can use besides the operations: noop, delay, fail, transform and
 * http_request. http_request is off unless DAG_engine.settings.httpAllowedHosts lists
 * hosts. It resolves the host name itself, refuses loopback, private, link-local and other
 * special-purpose addresses unless DAG_engine.settings.httpAllowedNetworks covers them
 * (platform/net/address-policy.ts), and connects to the address it checked. It does not
 * follow redirects (a redirect could leave the allowlist) and reads at most 1 MiB of the
 * response.
 */
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { invalidInput } from '../../errors.js';
import { checkAddress } from '../../platform/net/address-policy.js';
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
 * itself, a batch per claim (no executor slot, no round trip per node), since a slot would
 * cost far more than the action itself.
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
  /** CIDRs http_request may reach although loopback, private, link-local or otherwise special. */
  httpAllowedNetworks?: readonly string[];
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
  const target = await resolveChecked(url.hostname.replace(/^\[(.*)\]$/, '$1'), settings.httpAllowedNetworks ?? []);
  const hasBody = input.body !== undefined && input.method !== 'GET' && input.method !== 'HEAD';
  const response = await send(url, {
    method: input.method,
    headers: { ...(hasBody && typeof input.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...input.headers },
    body: hasBody ? (typeof input.body === 'string' ? input.body : JSON.stringify(input.body)) : undefined,
    addresses: target,
    signal,
  });
  let body: unknown = response.text;
  if (/json/i.test(response.headers['content-type'] ?? '')) {
    try {
      body = JSON.parse(response.text);
    } catch {
      // keep the text
    }
  }
  if (response.status >= 400) {
    throw new ActionFailure(`http_request: ${input.method} ${url.href} answered ${response.status}: ${response.text.slice(0, 200)}`, response.status === 429 || response.status >= 500);
  }
  return { status: response.status, headers: response.headers, body };
}

interface Resolved {
  address: string;
  family: 4 | 6;
}

/**
 * The host's addresses, every one of them checked: a name with one denied address among
 * several is refused (which address a client picks is not ours to predict). The connection
 * goes to these addresses, and to no other.
 */
async function resolveChecked(host: string, allowedNetworks: readonly string[]): Promise<Resolved[]> {
  let addresses: Resolved[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) as 4 | 6 }];
  } else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
    } catch (error) {
      throw new ActionFailure(`http_request: cannot resolve "${host}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, true);
    }
  }
  for (const { address } of addresses) {
    const verdict = checkAddress(address, allowedNetworks);
    if (!verdict.allowed) {
      throw invalidInput(
        `http_request: "${host}" resolves to ${address}, in ${verdict.range} (${verdict.what}), which workflows may not reach; if this server should reach it, list a CIDR covering it in DAG_engine.settings.httpAllowedNetworks (env DAG_HTTP_ALLOWED_NETWORKS)`,
      );
    }
  }
  if (addresses.length === 0) throw new ActionFailure(`http_request: "${host}" has no address`, true);
  return addresses;
}

/** One request to the checked addresses (TLS still verifies the host name); redirects are returned, not followed. */
function send(url: URL, options: { method: string; headers: Record<string, string>; body?: string; addresses: Resolved[]; signal: AbortSignal }): Promise<{ status: number; headers: Record<string, string>; text: string }> {
  const { addresses } = options;
  // The socket asks this instead of DNS: it gets the addresses checked above (all of them when
  // it tries several, as Node's happy eyeballs does), never a second answer.
  const pinned: LookupFunction = (_host, lookupOptions, callback) => {
    if (lookupOptions.all) (callback as unknown as (error: null, found: Resolved[]) => void)(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, { method: options.method, headers: options.headers, signal: options.signal, lookup: pinned, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.byteLength;
        if (size > MAX_RESPONSE_BYTES) {
          request.destroy();
          reject(new ActionFailure(`http_request: the response is larger than ${MAX_RESPONSE_BYTES} bytes`, false));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', reject);
      response.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ status: response.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    request.on('error', reject);
    request.end(options.body);
  });
}
