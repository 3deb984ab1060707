/*
 * Preloaded into the server under test by the memory benchmark:
 *   node --expose-gc --import ./bench/gc-hook.mjs dist/bundle/cli.js http ...
 * On SIGUSR2 it runs a full garbage collection (twice, so finalizers' garbage goes too)
 * and writes one line to stderr: BENCH_GC {"rssMb":..,"heapUsedMb":..,...}. Nothing else
 * about the server changes.
 */
process.on('SIGUSR2', () => {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
  const m = process.memoryUsage();
  const mb = (b) => Math.round((b / 1024 / 1024) * 100) / 100;
  process.stderr.write(
    `BENCH_GC ${JSON.stringify({ gc: typeof globalThis.gc === 'function', rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external), arrayBuffersMb: mb(m.arrayBuffers) })}\n`,
  );
});
