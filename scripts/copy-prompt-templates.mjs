// Copies the prompts' markdown templates beside their compiled declarations (dist/prompts),
// where markdownTemplate() reads them; tsc copies only code. Part of `npm run build`.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'prompts');
const to = join(root, 'dist', 'prompts');
mkdirSync(to, { recursive: true });
for (const file of readdirSync(from)) if (file.endsWith('.md')) copyFileSync(join(from, file), join(to, file));
