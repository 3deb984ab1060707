/*
 * API reference page
 * ==================
 * /api/docs renders /api/docs/openapi.json with Swagger UI, served from the swagger-ui-dist
 * package (no CDN: it works offline and under the default Content-Security-Policy, which
 * allows scripts from this origin only, hence the initializer is a file, not inline).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const DOCS_PATH = '/api/docs';
export const OPENAPI_PATH = '/api/docs/openapi.json';

const SWAGGER_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcp-level3 API reference</title>
<link rel="stylesheet" href="${DOCS_PATH}/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="${DOCS_PATH}/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${DOCS_PATH}/assets/swagger-ui-bundle.js"></script>
<script src="${DOCS_PATH}/assets/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(OPENAPI_PATH)},
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
});
`;

export interface StaticFile {
  type: string;
  body: Buffer;
}

const ASSET_TYPES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** The page and its assets, read once on first use (the bundle is about 1.5 MB). */
export function docsFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>([
    [DOCS_PATH, { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE) }],
    [`${DOCS_PATH}/assets/init.js`, { type: 'text/javascript; charset=utf-8', body: Buffer.from(INIT) }],
  ]);
  for (const [name, type] of Object.entries(ASSET_TYPES)) files.set(`${DOCS_PATH}/assets/${name}`, { type, body: readFileSync(join(SWAGGER_DIR, name)) });
  return files;
}
