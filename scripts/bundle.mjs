// Bundles what the server loads at start, before and just after the stdio handshake (the
// CLI, the declarations, the config, zod, the MCP SDK, yaml) into dist/bundle/, the files the
// `mcp-level3` command runs. Node resolves and reads each ES module separately; a few files
// instead of several hundred cost about a quarter less CPU at start-up (bench/coldstart.mjs).
// Packages outside BUNDLED stay imports of node_modules: those with native code, WebAssembly
// or files found beside their modules (PGlite, ONNX Runtime, pino's transports, OpenTelemetry's
// hooks) work only there, and the rest load once storage opens, when the split is worth less.
// Part of `npm run build`, after tsc (it bundles tsc's output in dist/).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const out = join(dist, 'bundle');

const BUNDLED = new Set(['zod', '@modelcontextprotocol/server', '@modelcontextprotocol/core', 'yaml', 'fastest-levenshtein', 'semver']);

const packageOf = (specifier) => {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
};

/** Every bare import outside BUNDLED (and every node: builtin) stays an import. */
const keepPackagesExternal = {
  name: 'keep-packages-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:') || !BUNDLED.has(packageOf(args.path))) return { path: args.path, external: true };
      return undefined;
    });
  },
};

rmSync(out, { recursive: true, force: true });
await build({
  // The CLI, and the modules started as their own thread or process (found by name beside
  // the module that starts them: src/platform/workers/module-worker.ts, pglite-adapter.ts).
  entryPoints: {
    cli: join(dist, 'src', 'cli.js'),
    'onnx-worker': join(dist, 'src', 'platform', 'embeddings', 'onnx-worker.js'),
    'preparation-worker': join(dist, 'src', 'engines', 'rag', 'preparation-worker.js'),
    'pglite-init': join(dist, 'src', 'platform', 'sql', 'pglite-init.js'),
  },
  outdir: out,
  bundle: true,
  // Modules imported on first use stay separate files, loaded as late as before.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  plugins: [keepPackagesExternal],
  // yaml is CommonJS; bundled into ES modules its require() calls of builtins need one.
  banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
