/*
 * Redaction
 * =========
 * One list of field and header names whose values never leave the process: the logger
 * masks them (request headers included), and the audit log masks them in recorded
 * arguments. The list is `logging.redact` in config/engine_map.yaml; each entry is a name
 * or a pattern with `*` (any characters), compared case-insensitively with `_` and `-`
 * taken as the same character, so `*-key` covers `X-API-Key`, `X-Upstream-Key` and
 * `upstream_key`.
 *
 * Also here: `withoutPaths`, which takes absolute file system paths out of a message that
 * may reach a client (a storage error names the data directory; a client has no business
 * knowing it).
 */

export const REDACTED = '[redacted]';

/**
 * The default list: credentials in headers (authorization, cookies, anything ending in
 * -key or -token) and fields (secrets, passwords, tokens, API keys).
 */
export const DEFAULT_REDACT: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  '*-key',
  '*-token',
  '*secret*',
  '*password*',
  'token',
  'apikey',
  'accesstoken',
  'refreshtoken',
  '*credential*',
  '*passwd*',
  '*passphrase*',
  'private-key',
];

/** How deep nested objects and arrays are walked; anything deeper is left as it is. */
const MAX_DEPTH = 8;

const normalize = (name: string) => name.toLowerCase().replaceAll('_', '-');

/** A predicate for field names from the list's names and `*` patterns. */
export function fieldMatcher(patterns: readonly string[]): (name: string) => boolean {
  const exact = new Set<string>();
  const wild: RegExp[] = [];
  for (const pattern of patterns.map(normalize)) {
    if (!pattern.includes('*')) exact.add(pattern);
    else wild.push(new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`));
  }
  const cache = new Map<string, boolean>();
  return (name) => {
    let hit = cache.get(name);
    if (hit === undefined) {
      const key = normalize(name);
      hit = exact.has(key) || wild.some((re) => re.test(key));
      if (cache.size < 10_000) cache.set(name, hit);
    }
    return hit;
  };
}

const isPlain = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null);

/**
 * A function that copies a value with the values of matching fields replaced by
 * "[redacted]", at any depth up to 8, in plain objects and arrays; `strings`, when given,
 * rewrites every other string (the logger masks URL credentials and bearer tokens this
 * way). What is unchanged is returned as is (the caller's objects are never modified).
 */
export function createRedactor(patterns: readonly string[] = DEFAULT_REDACT, strings?: (value: string) => string): <T>(value: T) => T {
  const matches = fieldMatcher(patterns);
  const walk = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return strings ? strings(value) : value;
    if (depth >= MAX_DEPTH) return value;
    if (Array.isArray(value)) {
      let out: unknown[] | undefined;
      value.forEach((item, i) => {
        const clean = walk(item, depth + 1);
        if (clean !== item) (out ??= [...value])[i] = clean;
      });
      return out ?? value;
    }
    if (!isPlain(value)) return value;
    let out: Record<string, unknown> | undefined;
    for (const key of Object.keys(value)) {
      const item = value[key];
      const clean = matches(key) ? (item === undefined || item === null || item === '' ? item : REDACTED) : walk(item, depth + 1);
      if (clean !== item) (out ??= { ...value })[key] = clean;
    }
    return out ?? value;
  };
  return <T>(value: T) => walk(value, 0) as T;
}

const defaultRedactor = createRedactor();

/**
 * `value` with the values of fields named in the redaction list replaced by "[redacted]"
 * (the default list unless `patterns` is given); for the audit log's arguments.
 */
export function redactFields<T>(value: T, patterns?: readonly string[]): T {
  return patterns ? createRedactor(patterns)(value) : defaultRedactor(value);
}

// An absolute POSIX path (not the path of a URL: no scheme or host before it) or a Windows one.
const SEGMENT = String.raw`[^\s/'"\x60,;:()<>[\]{}]`;
const POSIX_PATH = new RegExp(String.raw`(?<![\w:/.~-])/${SEGMENT}+(?:/${SEGMENT}*)*`, 'g');
const WINDOWS_PATH = /\b[A-Za-z]:\\[^\s'"`,;()<>]*/g;

/** The message with absolute file system paths replaced by "<path>". */
export function withoutPaths(message: string): string {
  return message.replace(WINDOWS_PATH, '<path>').replace(POSIX_PATH, '<path>');
}
