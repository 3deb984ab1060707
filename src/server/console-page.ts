/*
 * Operator console
 * ================
 * /console serves the static files of the top-level console/ folder (plain HTML, CSS and
 * JavaScript modules, no build step): copied to dist/console by `npm run build`, so the same
 * relative path finds them from src/server (tsx, tests) and dist/src/server (the package).
 * The page calls the REST API, and follows runs through /mcp, with the operator's API key or
 * OAuth access token like any other client, so scope, policy and audit apply. It gets its own
 * Content-Security-Policy, stricter than the server's default: its own scripts, styles and
 * API only (and the OAuth issuer's origin, when OAuth is on), no inline code or style, no
 * frames. With OAuth on, /console/oauth-client.json names the configured client id
 * (oauth2.client_id) the page signs in as.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { assetPath } from '../package-info.js';
import type { StaticFile } from './api/docs-page.js';

export const CONSOLE_PATH = '/console';

/** The console's own Client metadata file (RFC 7591 names): the OAuth client id it signs in as. */
export const CONSOLE_OAUTH_CLIENT_PATH = `${CONSOLE_PATH}/oauth-client.json`;

/**
 * The console's Content-Security-Policy. `fetch` reaches this origin only, and with OAuth on
 * also the issuer's origin: the page reads the authorization server's metadata and trades
 * the authorization code for a token there (oauth.js). Nothing else is widened.
 */
export function consoleCsp(oauthIssuer?: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self'${oauthIssuer ? ` ${new URL(oauthIssuer).origin}` : ''}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The console folder: <package>/console from source, dist/console when built. */
export function consoleDir(): string {
  return assetPath('console');
}

/** The page (at /console and /console/) and its assets (/console/<file>), read once on first use. */
export function consoleFiles(dir = consoleDir()): Map<string, StaticFile> {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`the operator console's files are missing from ${dir}; run \`npm run build\` (it copies console/ to dist/console)`);
  }
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) files.set(`${CONSOLE_PATH}/${name}`, { type, body: readFileSync(join(dir, name)) });
  }
  const index = files.get(`${CONSOLE_PATH}/index.html`)!;
  files.set(CONSOLE_PATH, index);
  files.set(`${CONSOLE_PATH}/`, index);
  return files;
}
