/*
 * Logging
 * =======
 * pino JSON lines on stderr (fd 2): in stdio mode stdout carries only protocol messages.
 * Each engine logs through a child logger carrying `engine`, so one engine's lines can be
 * picked out with `grep '"engine":"registry"'`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'mcp-level3' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['*.password', '*.secret', '*.token', '*.apiKey', '*.authorization', 'config.auth'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
