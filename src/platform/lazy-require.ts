/*
 * CommonJS packages loaded on first use
 * =====================================
 * A package a server may never need (prom-client on stdio, ioredis without Redis, jsonata
 * before the first workflow expression, ...) is required when first asked for rather than
 * imported with its module: every start, a stdio `initialize` included, skips it. Required
 * synchronously (these packages are CommonJS), so callers keep plain, non-async APIs. Resolved
 * from this package, as an import would be.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A getter of the package `id`, required on its first call and kept. */
export function lazyRequire<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(id) as T);
}
