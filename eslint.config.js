// Lint rules: the recommended TypeScript set, plus the project's boundaries:
// - nothing in src/, tools/, resources/ or prompts/ writes to stdout except the CLI, whose
//   subcommands print a result (on the stdio transport stdout carries protocol messages only);
// - platform adapters never import engines, engines never import the server or the MCP
//   declarations, and declarations never import the server.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const stdoutRules = {
  'no-console': 'error',
  'no-restricted-properties': ['error', { object: 'process', property: 'stdout', message: 'stdout carries MCP messages on the stdio transport: log to stderr (the logger), or print from src/cli.ts' }],
};

const importsFrom = (groups) => ['error', { patterns: groups.map(([group, message]) => ({ group, message })) }];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', '.ci-out/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', Request: 'readonly', Response: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The operator console's browser modules (served as they are, no build step).
    files: ['console/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { window: 'readonly', document: 'readonly', location: 'readonly', sessionStorage: 'readonly', fetch: 'readonly', URLSearchParams: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', ResizeObserver: 'readonly', AbortController: 'readonly', TextDecoder: 'readonly', TextEncoder: 'readonly', URL: 'readonly', crypto: 'readonly', btoa: 'readonly', history: 'readonly' },
    },
  },
  {
    files: ['src/**/*.ts', 'tools/**/*.ts', 'resources/**/*.ts', 'prompts/**/*.ts'],
    ignores: ['src/cli.ts'],
    rules: stdoutRules,
  },
  {
    files: ['src/cli.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['src/platform/**/*.ts'],
    rules: { 'no-restricted-imports': importsFrom([[['**/engines/**'], 'platform adapters serve every engine and import none: move what both need into platform/']]) },
  },
  {
    files: ['src/engines/**/*.ts'],
    rules: {
      'no-restricted-imports': importsFrom([
        [['**/server/**', '**/tools/**', '**/resources/**', '**/prompts/**', '**/surface/**'], 'engines hold domain logic and know nothing of MCP, HTTP or the declarations'],
      ]),
    },
  },
  {
    files: ['tools/**/*.ts', 'resources/**/*.ts', 'prompts/**/*.ts', 'src/surface/**/*.ts'],
    rules: { 'no-restricted-imports': importsFrom([[['**/server/**', '**/app.js'], 'declarations are served by the server, never the other way round']]) },
  },
);
