/*
 * Logging
 * =======
 * pino JSON lines on stderr (fd 2): in stdio mode stdout carries only protocol messages.
 * Each engine logs through a child logger carrying `engine` (`RAG_engine`, `registry`, ...),
 * so one engine's lines can be picked out with `grep '"engine":"RAG_engine"'`.
 *
 * Every line written while a request or a span is active also carries `request_id`,
 * `trace_id` and `span_id` (the names OpenTelemetry's log correlation uses), read from
 * request-context.ts and tracing.ts. Secrets never reach the output: known secret fields
 * are redacted by path, and credentials inside URLs and bearer tokens inside strings are
 * masked.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { currentRequestId } from './request-context.js';
import { currentSpanId, currentTraceId } from './tracing.js';

export type { Logger };

const CENSOR = '[redacted]';

// pino's `*` matches one level; the common places secrets sit are listed at both depths.
const SECRET_KEYS = ['password', 'secret', 'token', 'apiKey', 'api_key', 'authorization', 'cookie', 'client_secret', 'clientSecret', 'accessToken', 'refreshToken'];
const HEADER_KEYS = ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'proxy-authorization'];
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  ...HEADER_KEYS.flatMap((key) => [`headers["${key}"]`, `*.headers["${key}"]`]),
  'config.auth',
];

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/:@]+:[^\s/@]+@/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/-]+=*/g;

function scrub(value: string): string {
  return value.replace(URL_CREDENTIALS, `$1${CENSOR}@`).replace(BEARER, `$1 ${CENSOR}`);
}

/** Masks credentials in string values, copying what changes: the caller's objects are left alone. */
function scrubStrings(object: Record<string, unknown>, depth: number): Record<string, unknown> {
  let out = object;
  for (const key of Object.keys(object)) {
    const value = object[key];
    let clean: unknown = value;
    if (typeof value === 'string') clean = scrub(value);
    else if (depth > 0 && value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      clean = scrubStrings(value as Record<string, unknown>, depth - 1);
    }
    if (clean !== value) {
      if (out === object) out = { ...object };
      out[key] = clean;
    }
  }
  return out;
}

/** pino's error serializer, with credentials masked in the message and stack. */
function errorSerializer(error: Error): Record<string, unknown> {
  return scrubStrings(pino.stdSerializers.err(error) as unknown as Record<string, unknown>, 0);
}

function correlation(): Record<string, string> {
  const fields: Record<string, string> = {};
  const requestId = currentRequestId();
  if (requestId) fields.request_id = requestId;
  const traceId = currentTraceId();
  if (traceId) {
    fields.trace_id = traceId;
    fields.span_id = currentSpanId()!;
  }
  return fields;
}

/** destination: where lines go (tests pass a stream); stderr by default. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'mcp-level3' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: correlation,
      formatters: { level: (label) => ({ level: label }), log: (object) => scrubStrings(object, 1) },
      serializers: { err: errorSerializer },
      hooks: {
        // The message string is not seen by formatters.log.
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = scrub(args[i] as string);
          method.apply(this, args);
        },
      },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
