/*
 * dag/secrets
 * ===========
 * Server-side secrets for http_request headers: `=$secret("RELEASE_HOOK_TOKEN")` reads the
 * environment variable DAG_engine.settings.secretEnvPrefix + name (MCP_SECRET_RELEASE_HOOK_TOKEN
 * by default). Only variables with that prefix can be read, so a workflow cannot ask for
 * DATABASE_URL or JWT_SECRET; definitions, node outputs and audit records hold the name,
 * never the value.
 */
import { ExpressionError } from './expressions.js';

const SECRET_NAME = /^[A-Z0-9_]{1,128}$/;

export function environmentSecrets(prefix: string, env: NodeJS.ProcessEnv = process.env): (name: string) => string {
  return (name) => {
    if (!SECRET_NAME.test(name)) {
      throw new ExpressionError(`$secret(${JSON.stringify(name)}): a secret name is upper-case letters, digits and "_" (at most 128), like "RELEASE_HOOK_TOKEN"`);
    }
    const value = env[prefix + name];
    if (value === undefined || value === '') {
      throw new ExpressionError(
        `$secret("${name}"): no such secret on this server; its operator sets it as the environment variable ${prefix}${name} (the prefix is DAG_engine.settings.secretEnvPrefix)`,
      );
    }
    return value;
  };
}
