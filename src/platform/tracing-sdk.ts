/*
 * Tracing SDK start-up
 * ====================
 * Loaded only when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is
 * set: starts @opentelemetry/sdk-node with the OTLP trace exporter the standard OTEL_*
 * variables describe (protocol http/protobuf by default, OTEL_SERVICE_NAME, sampler, batch
 * delays), and the instrumentations for pg, ioredis, outbound fetch (undici) and node:http.
 * It must run before the drivers are imported; App.open() imports them lazily, after it.
 *
 * Metrics stay on Prometheus (/metrics) and logs on stderr: the SDK's OTLP metric and log
 * exporters start only when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for them.
 */
import { register } from 'node:module';
import type { IncomingMessage } from 'node:http';
import type { Logger } from './log.js';
import { installTracing } from './tracing.js';

export interface TracingOptions {
  serviceName: string;
  version: string;
  log: Logger;
  env?: Record<string, string | undefined>;
  /** Span processors to use instead of the OTLP exporter from the environment (tests). */
  spanProcessors?: unknown[];
  /** false: no instrumentation of drivers (tests that only exercise the API). */
  instrument?: boolean;
}

/** Probes and scrapes would be most of the spans and none of the insight. */
const UNTRACED_PATHS = new Set(['/health', '/ready', '/metrics']);

export async function startTracing(options: TracingOptions): Promise<void> {
  const env = options.env ?? process.env;
  const instrument = options.instrument ?? true;
  if (instrument) {
    // ioredis is CommonJS imported from ESM, which require-in-the-middle does not see on
    // Node 20; import-in-the-middle's loader hook lets its instrumentation patch it. The
    // hook is limited to ioredis so every other module loads untouched.
    register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: { include: ['ioredis'] } });
  }
  const [api, { NodeSDK }, instrumentations] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-node'),
    instrument ? loadInstrumentations() : Promise.resolve([]),
  ]);

  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME || options.serviceName,
    instrumentations,
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors as never } : {}),
    // undefined lets the SDK read OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER; [] turns them off.
    metricReaders: env.OTEL_METRICS_EXPORTER ? undefined : [],
    logRecordProcessors: env.OTEL_LOGS_EXPORTER ? undefined : [],
  });
  // The SDK's own diagnostics (export failures) go to our log: its default console logger
  // would write to stdout, which carries the protocol in stdio mode.
  const diagLog = options.log.child({ component: 'otel' });
  api.diag.setLogger(
    {
      error: (message, ...args) => diagLog.error({ args }, message),
      warn: (message, ...args) => diagLog.warn({ args }, message),
      info: (message, ...args) => diagLog.debug({ args }, message),
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: api.DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  sdk.start();
  installTracing(api, () => sdk.shutdown(), options.version);
  options.log.info({ endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT, protocol: env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf' }, 'tracing to OTLP');
}

async function loadInstrumentations() {
  const [{ PgInstrumentation }, { IORedisInstrumentation }, { UndiciInstrumentation }, { HttpInstrumentation }] = await Promise.all([
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/instrumentation-ioredis'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/instrumentation-http'),
  ]);
  return [
    // Statement text is recorded (it is parameterized: values never are); connect spans
    // would double every pooled checkout, so only queries are traced. requireParentSpan
    // keeps start-up migrations and pool pings from becoming traces of their own.
    new PgInstrumentation({ enhancedDatabaseReporting: false, ignoreConnectSpans: true, requireParentSpan: true }),
    new IORedisInstrumentation({ requireParentSpan: true }),
    new UndiciInstrumentation(),
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.has((req.url ?? '/').split('?')[0]!),
      // Outbound calls go through fetch (undici), traced above; node:http outbound is not used.
      disableOutgoingRequestInstrumentation: true,
    }),
  ];
}
