/*
 * rag/worker-preparer
 * ===================
 * Document preparation on a worker thread, for the offline embedder and the heuristic
 * extractor: pure-JS, CPU-bound work that in process shares the main thread with PGlite
 * (WASM PostgreSQL, in process too). On a thread of its own it runs on the second core
 * while the engine writes the previous group. One worker, started on first use and reused;
 * it does not keep the process alive while idle, and close() ends it (App.close).
 *
 * Starting the worker (loading the text splitter, building the embedder's word-frequency
 * prior) takes a noticeable fraction of a second; the engine would wait that long for its
 * first group. So the first
 * request after a start is prepared here, in process, with the same code: the first group is
 * written while the worker gets ready for the next. Only the first: on a busy machine the
 * worker may take seconds to start, and more work here would only slow the writes.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../platform/workers/module-worker.js';
import { createOfflineEmbedder } from '../../platform/embeddings/offline-embedder.js';
import { abortError, createInProcessPreparer, type DocumentPreparer, type Preparation } from './document-preparer.js';
import { HEURISTIC_EXTRACTOR } from './graph/heuristic-extractor.js';
import type { PreparationRequest, PreparationResponse, PreparationWorkerSetup } from './preparation-worker.js';
import { decodeError, decodePrepared, READY } from './prepared-wire.js';

interface Pending {
  count: number;
  settle(outcomes: Preparation[]): void;
}

export interface WorkerPreparer extends DocumentPreparer {
  /** Starts the worker if it is not running; resolves once it answers requests itself. */
  whenReady(): Promise<void>;
}

/** Prepares with the offline embedder of these dimensions; the only extractor it runs is the heuristic one. */
export function createWorkerPreparer(setup: PreparationWorkerSetup): WorkerPreparer {
  let worker: Worker | undefined;
  let ready = false;
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let whileStarting: DocumentPreparer | undefined;
  /** Whether the current worker's start has had its request prepared here. */
  let preparedHere = false;
  let readyWaiters: { resolve(): void; reject(error: Error): void }[] = [];

  const failAll = (error: Error) => {
    for (const waiter of readyWaiters) waiter.reject(error);
    readyWaiters = [];
    for (const [id, job] of pending) {
      pending.delete(id);
      job.settle(Array.from({ length: job.count }, () => ({ error })));
    }
  };
  // Referenced only while a request is out: an idle worker must not keep the process alive.
  const updateRef = () => (pending.size > 0 ? worker?.ref() : worker?.unref());

  const ensureWorker = (): Worker => {
    if (worker) return worker;
    const started = startModuleWorker(import.meta.url, 'preparation-worker', setup);
    ready = false;
    preparedHere = false;
    started.on('message', (message: PreparationResponse | typeof READY) => {
      if (message === READY) {
        if (worker !== started) return;
        ready = true;
        for (const waiter of readyWaiters) waiter.resolve();
        readyWaiters = [];
        return;
      }
      const { id, outcomes } = message;
      const job = pending.get(id);
      if (!job) return; // cancelled meanwhile
      pending.delete(id);
      updateRef();
      job.settle(outcomes.map((o) => ('content' in o ? { content: decodePrepared(o.content) } : { error: decodeError(o.error) })));
    });
    started.on('error', (error) => {
      if (worker === started) worker = undefined;
      failAll(new Error(`document preparation failed: ${error.message}`));
    });
    started.on('exit', (code) => {
      if (worker === started) worker = undefined;
      failAll(new Error(`the document preparation worker stopped (exit code ${code})`));
    });
    worker = started;
    updateRef();
    return started;
  };

  return {
    prepare(docs, { extractor, signal, embed = true }) {
      if (extractor && extractor !== HEURISTIC_EXTRACTOR) throw new Error(`the worker preparer runs the heuristic extractor only, not ${extractor.id}`);
      if (docs.length === 0) return Promise.resolve([]);
      if (signal?.aborted) return Promise.resolve(docs.map(() => ({ error: abortError(signal) })));
      const target = ensureWorker();
      if (!ready && !preparedHere) {
        preparedHere = true;
        whileStarting ??= createInProcessPreparer(createOfflineEmbedder(setup.dimensions), setup.chunking);
        return whileStarting.prepare(docs, { extractor, signal, embed });
      }
      const id = nextId++;
      return new Promise<Preparation[]>((resolve) => {
        const onAbort = () => {
          // The worker finishes the request; its answer finds nothing pending and is dropped.
          pending.delete(id);
          updateRef();
          resolve(docs.map(() => ({ error: abortError(signal!) })));
        };
        pending.set(id, {
          count: docs.length,
          settle: (outcomes) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(outcomes);
          },
        });
        signal?.addEventListener('abort', onAbort, { once: true });
        updateRef();
        const request: PreparationRequest = { id, docs: docs.map((d) => ({ text: d.text, mimeType: d.mimeType, ...(d.title ? { title: d.title } : {}) })), extract: extractor !== undefined, embed };
        target.postMessage(request);
      });
    },
    whenReady() {
      ensureWorker();
      return ready ? Promise.resolve() : new Promise<void>((resolve, reject) => readyWaiters.push({ resolve, reject }));
    },
    async close() {
      const stopping = worker;
      worker = undefined;
      ready = false;
      failAll(new Error('the document preparation worker was closed'));
      await stopping?.terminate();
    },
  };
}
