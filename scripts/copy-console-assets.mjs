// Copies the operator console's static files (console/: HTML, CSS, JavaScript modules) to
// dist/console, where src/server/console-page.ts finds them in the package; tsc copies only
// TypeScript. Part of `npm run build`.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'console');
const to = join(root, 'dist', 'console');
// console/apps/: the MCP Apps pages (src/surface/mcp-app.ts inlines them into ui:// resources).
for (const folder of ['', 'apps']) {
  mkdirSync(join(to, folder), { recursive: true });
  for (const file of readdirSync(join(from, folder))) if (/\.(html|css|js|svg)$/.test(file)) copyFileSync(join(from, folder, file), join(to, folder, file));
}
