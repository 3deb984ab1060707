/*
 * Request size limits
 * ===================
 * One limit for a message on every transport: an HTTP request body and a line on stdio.
 */
import type { LoadedConfig } from '../config/load-config.js';

/** security.max_body_bytes, or 10 MiB, or more when registry.maxContentBytes needs it in base64. */
export function requestBodyLimit(config: LoadedConfig): number {
  const maxContent = config.engineMap.engine_map.registry.settings.maxContentBytes;
  return config.auth.security.max_body_bytes ?? Math.max(10 * 1024 * 1024, Math.ceil((maxContent * 4) / 3) + 64 * 1024);
}

/** Names the setting in error messages. */
export const REQUEST_LIMIT_SETTING = 'security.max_body_bytes in config/auth-config.yaml, env MCP_MAX_BODY_BYTES';
