/*
 * Environment interpolation for configuration files
 * ================================================
 * `${VAR}` and `${VAR:-default}` inside YAML string values. Interpolation runs on parsed
 * values, never on raw text, so an environment value can't inject YAML structure. A value
 * that is exactly one `${...}` expression is re-read as a YAML scalar, so
 * `maxNodes: ${DAG_MAX_NODES:-10000}` yields the number 10000.
 */
import { parse as parseYaml } from 'yaml';

const EXPRESSION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_EXPRESSION = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

export class InterpolationError extends Error {
  constructor(
    readonly path: string,
    readonly variable: string,
  ) {
    super(`environment variable ${variable} is not set (set it, or write \${${variable}:-default} in the file)`);
  }
}

type Env = Record<string, string | undefined>;

function interpolateString(value: string, path: string, env: Env): unknown {
  const replaced = value.replace(EXPRESSION, (_match, name: string, fallback: string | undefined) => {
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    if (fallback !== undefined) return fallback;
    throw new InterpolationError(path, name);
  });
  if (!WHOLE_EXPRESSION.test(value)) return replaced;
  if (replaced === '') return '';
  // Re-read as a scalar only; a value that parses to a map or list stays a string.
  try {
    const scalar: unknown = parseYaml(replaced);
    return scalar === null || typeof scalar === 'object' ? replaced : scalar;
  } catch {
    return replaced;
  }
}

export function interpolate(value: unknown, env: Env, path = ''): unknown {
  if (typeof value === 'string') return interpolateString(value, path, env);
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, env, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, env, path ? `${path}.${key}` : key)]),
    );
  }
  return value;
}
