/*
 * Logging
 * =======
 * pino JSON lines on stderr (fd 2): in stdio mode stdout carries only protocol messages.
 * Each engine logs through a child logger carrying `engine` (`RAG_engine`, `registry`, ...),
 * so one engine's lines can be picked out with `grep '"engine":"RAG_engine"'`.
 *
 * Every line written while a request or a span is active also carries `request_id`,
 * `trace_id` and `span_id` (the names OpenTelemetry's log correlation uses), read from
 * request-context.ts and tracing.ts. Secrets never reach the output: the values of fields
 * and headers named in `logging.redact` (redact.ts: authorization, cookies, *-key, *-token,
 * *secret*, ... by default) are masked at any depth, and credentials inside URLs and bearer
 * tokens inside strings are masked.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { createRedactor, DEFAULT_REDACT, REDACTED } from './redact.js';
import { currentRequestId } from './request-context.js';
import { currentSpanId, currentTraceId } from './tracing.js';

export type { Logger };

const CENSOR = REDACTED;

// The whole configuration object is never logged; a line that tries gets a mask.
const REDACT_PATHS = ['config.auth'];

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/:@]+:[^\s/@]+@/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/-]+=*/g;

function scrub(value: string): string {
  return value.replace(URL_CREDENTIALS, `$1${CENSOR}@`).replace(BEARER, `$1 ${CENSOR}`);
}

/** pino's error serializer, with credentials masked in the message and stack. */
function errorSerializer(error: Error): Record<string, unknown> {
  const serialized = pino.stdSerializers.err(error) as unknown as Record<string, unknown>;
  for (const key of ['message', 'stack'] as const) if (typeof serialized[key] === 'string') serialized[key] = scrub(serialized[key]);
  return serialized;
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

export interface LoggerOptions {
  /** Field and header names whose values are masked (`logging.redact`); the default list when absent. */
  redact?: readonly string[];
}

/** destination: where lines go (tests pass a stream); stderr by default. */
export function createLogger(level: string, destination?: DestinationStream, options: LoggerOptions = {}): Logger {
  const redact = createRedactor(options.redact ?? DEFAULT_REDACT, scrub);
  return pino(
    {
      level,
      base: { service: 'mcp-level3' },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: correlation,
      formatters: { level: (label) => ({ level: label }), log: (object) => redact(object) },
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
