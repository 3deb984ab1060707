/*
 * Configuration loader
 * ====================
 * Reads engine_map.yaml, api-routes.yaml and auth-config.yaml from the config directory,
 * interpolates ${VAR} references, and validates them. A file missing from the directory
 * falls back to the copy shipped with the package, so `npx mcp-level3` works from any
 * directory. The first invalid value stops start-up with file, key path and expectation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { PACKAGE_ROOT } from '../package-info.js';
import { formatIssues } from '../zod-issues.js';
import { interpolate, InterpolationError } from './interpolate.js';
import {
  apiRoutesFileSchema,
  authConfigFileSchema,
  engineMapFileSchema,
  type ApiRoutesFile,
  type AuthConfigFile,
  type EngineMapFile,
} from './schema.js';

export const BUNDLED_CONFIG_DIR = join(PACKAGE_ROOT, 'config');

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  engineMap: EngineMapFile;
  apiRoutes: ApiRoutesFile;
  auth: AuthConfigFile;
  /** Where each file was read from, for the start-up log. */
  sources: Record<'engineMap' | 'apiRoutes' | 'auth', string>;
  /** ontologyPath resolved against the directory of engine_map.yaml. */
  ontologyPath: string;
}

type Env = Record<string, string | undefined>;

function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function readConfigFile<S extends z.ZodType>(dir: string, fileName: string, schema: S, env: Env): { value: z.infer<S>; source: string } {
  const local = join(dir, fileName);
  const path = existsSync(local) ? local : join(BUNDLED_CONFIG_DIR, fileName);
  const shown = displayPath(path);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    if (error instanceof YAMLParseError) {
      const where = error.linePos?.[0] ? ` (line ${error.linePos[0].line}, column ${error.linePos[0].col})` : '';
      throw new ConfigError([`${shown}: not valid YAML${where}: ${error.message.split('\n')[0]}`]);
    }
    throw new ConfigError([`${shown}: cannot be read: ${(error as Error).message}`]);
  }
  let interpolated: unknown;
  try {
    interpolated = interpolate(raw ?? {}, env);
  } catch (error) {
    if (error instanceof InterpolationError) throw new ConfigError([`${shown}: ${error.path}: ${error.message}`]);
    throw error;
  }
  // Parsed once per process: zod's compiled fast path costs more to generate than it saves here.
  const parsed = schema.safeParse(interpolated, { reportInput: true, jitless: true });
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues).map((line) => `${shown}: ${line}`));
  return { value: parsed.data, source: path };
}

export function loadConfig(options: { configDir: string; explicit: boolean; env?: Env }): LoadedConfig {
  const env = options.env ?? process.env;
  const dir = resolve(options.configDir);
  if (options.explicit && !existsSync(dir)) {
    throw new ConfigError([`--config ${options.configDir}: no such directory (point it at a folder holding engine_map.yaml, api-routes.yaml and auth-config.yaml)`]);
  }
  const problems: string[] = [];
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (error instanceof ConfigError) {
        problems.push(...error.problems);
        return undefined;
      }
      throw error;
    }
  };
  const engineMap = attempt(() => readConfigFile(dir, 'engine_map.yaml', engineMapFileSchema, env));
  const apiRoutes = attempt(() => readConfigFile(dir, 'api-routes.yaml', apiRoutesFileSchema, env));
  const auth = attempt(() => readConfigFile(dir, 'auth-config.yaml', authConfigFileSchema, env));
  if (!engineMap || !apiRoutes || !auth || problems.length > 0) throw new ConfigError(problems);

  const ontology = engineMap.value.engine_map.taxonomy.settings.ontologyPath;
  return {
    engineMap: engineMap.value,
    apiRoutes: apiRoutes.value,
    auth: auth.value,
    sources: { engineMap: engineMap.source, apiRoutes: apiRoutes.source, auth: auth.source },
    ontologyPath: resolveOntology(ontology, engineMap.source),
  };
}

// A relative ontology path is looked up beside engine_map.yaml, then in the bundled config,
// as the config files themselves are: a config dir holding only engine_map.yaml (a Helm
// ConfigMap, say) still gets the shipped ontology.
function resolveOntology(path: string, engineMapSource: string): string {
  if (isAbsolute(path)) return path;
  const beside = resolve(dirname(engineMapSource), path);
  const bundled = join(BUNDLED_CONFIG_DIR, path);
  return existsSync(beside) || !existsSync(bundled) ? beside : bundled;
}
