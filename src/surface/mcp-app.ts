/*
 * MCP Apps
 * ========
 * The HTML of a `ui://` resource (text/html;profile=mcp-app): a page of console/apps/ with
 * its stylesheet and JavaScript modules inlined, so it is one self-contained document (a host
 * renders it in a sandboxed iframe, with no origin to fetch from and no CDN). The pages use the
 * console's own modules (../graph.js draws a run) and stylesheet, so each thing is done one
 * way; no build step: imports and `export` keywords are dropped and the modules concatenated
 * in dependency order, once per process. console/ is copied to dist/console by `npm run build`.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { assetPath } from '../package-info.js';

export const MCP_APP_MIME_TYPE = 'text/html;profile=mcp-app';

const APPS_DIR = assetPath('console', 'apps');
const IMPORT = /^import\s*\{[^}]*\}\s*from\s*'([^']+)';[ \t]*\n/gm;
const DECLARATION = /^(?:export\s+)?(?:(?:async\s+)?function\*?|const|let|var|class)\s+([A-Za-z_$][\w$]*)/gm;

/** The modules an entry needs, dependencies first, each once, without import and export keywords. */
function bundle(entry: string): string {
  const done = new Set<string>();
  const parts: string[] = [];
  const declared = new Map<string, string>();
  const visit = (file: string) => {
    if (done.has(file)) return;
    done.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, spec] of source.matchAll(IMPORT)) visit(join(dirname(file), spec!));
    const body = source.replace(IMPORT, '').replace(/^export\s+(?=(?:async\s+)?function|const|let|class)/gm, '');
    const name = relative(join(APPS_DIR, '..'), file);
    if (/^\s*(import|export)\b/m.test(body)) throw new Error(`${name}: only single-statement \`import { … } from '…'\` and \`export function/const\` can be inlined into an MCP App`);
    // Concatenated modules share one scope: a name declared twice would fail in the browser.
    for (const [, id] of body.matchAll(DECLARATION)) {
      if (declared.has(id!)) throw new Error(`${name} and ${declared.get(id!)} both declare ${id}; rename one (the MCP App inlines both into one script)`);
      declared.set(id!, name);
    }
    parts.push(`// ${name}\n${body}`);
  };
  visit(entry);
  return parts.join('\n');
}

const cache = new Map<string, string>();

/** console/apps/<page>.html as one document: `<link rel="stylesheet">` and the module script inlined. */
export function mcpAppHtml(page: string): string {
  const cached = cache.get(page);
  if (cached !== undefined) return cached;
  let html = readFileSync(join(APPS_DIR, `${page}.html`), 'utf8');
  html = html.replace(/<link rel="stylesheet" href="([^"]+)">/g, (_, href: string) => `<style>\n${readFileSync(join(APPS_DIR, href), 'utf8')}</style>`);
  html = html.replace(/<script type="module" src="([^"]+)"><\/script>/g, (_, src: string) => {
    const code = bundle(join(APPS_DIR, src));
    if (/<\/script/i.test(code)) throw new Error(`${src}: "</script" cannot appear in inlined code`);
    return `<script type="module">\n${code}</script>`;
  });
  if (/<(script|link)[^>]+(src|href)=/i.test(html)) throw new Error(`console/apps/${page}.html still names an external file after inlining`);
  cache.set(page, html);
  return html;
}
