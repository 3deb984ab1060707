import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each embedded database is a WASM PostgreSQL (~250 MB, ~2 s to start): two workers fit
    // the 2-core machines this runs on.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    // Servers the tests start embed with the offline embedder unless a test chooses another:
    // the default, the local neural model, has suites of its own (rag-onnx.test.ts).
    env: { EMBEDDINGS_PROVIDER: 'offline' },
  },
});
