/*
 * A worker thread running one of this package's modules
 * =====================================================
 * The entry is the module's .js file beside the caller in dist/; run from source (vitest,
 * tsx) it is the .ts file, loaded through tsx's loader, a development dependency.
 */
import { Worker } from 'node:worker_threads';

/** `base` is the caller's import.meta.url; `name` the entry's file name without extension. */
export function startModuleWorker(base: string, name: string, workerData: unknown): Worker {
  const fromSource = base.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, base);
  if (!fromSource) return new Worker(entry, { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData });
}
