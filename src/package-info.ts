/*
 * Package root and version
 * ========================
 * Found by walking up from this module to the package.json named mcp-level3, so it holds
 * whether the code runs from dist/ (built) or src/ (tsx in development).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): { root: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mcp-level3') return { root: dir, version: pkg.version ?? '0.0.0' };
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('mcp-level3: cannot find its own package.json');
    dir = parent;
  }
}

export const { root: PACKAGE_ROOT, version: VERSION } = findPackageRoot();

/**
 * The folder holding the files the build copies beside the code (console/, prompts' markdown):
 * <package>/dist when this code runs built (dist/src, or the bundle in dist/bundle), the
 * package itself when it runs from source. Resolved from the package, not from the calling
 * module, because the bundle moves modules to another folder.
 */
const ASSET_ROOT = fileURLToPath(import.meta.url).startsWith(join(PACKAGE_ROOT, 'dist') + sep) ? join(PACKAGE_ROOT, 'dist') : PACKAGE_ROOT;

export function assetPath(...segments: string[]): string {
  return join(ASSET_ROOT, ...segments);
}
