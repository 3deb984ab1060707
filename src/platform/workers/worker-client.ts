/*
 * Requests to one module worker, and their answers
 * =================================================
 * What the ONNX embedder and the document preparer share: the worker starts on the first
 * request and stays; it keeps the process alive only while a request is out; each request
 * carries an id its answer repeats; an aborted request is forgotten (its late answer is
 * dropped); a worker that fails or exits fails every request it held, and the next request
 * starts another. What a request and an answer hold is the caller's.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from './module-worker.js';

export interface WorkerClientOptions<Answer extends { id: number }> {
  /** The calling module's import.meta.url and the worker module's name beside it. */
  base: string;
  name: string;
  workerData: unknown;
  /** Whether a message answers a request; other messages go to onNotice. */
  isAnswer(message: unknown): message is Answer;
  /** A message of the running worker that answers no request (one of a replaced worker is dropped). */
  onNotice?(message: unknown): void;
  /** A worker was started (before its first message). */
  onStart?(): void;
  /** The held requests were failed with this error (worker error, exit or close). */
  onFail?(error: Error): void;
  /** The errors requests fail with, in the caller's words. */
  failures: { error(message: string): string; exit(code: number): string; closed: string };
}

export interface WorkerClient<Request, Answer> {
  /** Starts a worker if none runs. */
  start(): void;
  /** Sends request(id) and resolves with its answer; rejects when aborted or when the worker fails. */
  request(request: (id: number) => Request, signal?: AbortSignal): Promise<Answer>;
  /** Ends the worker, failing what it held. */
  close(): Promise<void>;
}

interface Pending<Answer> {
  resolve(answer: Answer): void;
  reject(error: Error): void;
}

export function createWorkerClient<Request, Answer extends { id: number }>(options: WorkerClientOptions<Answer>): WorkerClient<Request, Answer> {
  let current: Worker | undefined;
  const pending = new Map<number, Pending<Answer>>();
  let nextId = 0;
  // An idle worker must not keep the process alive.
  const updateRef = () => (pending.size > 0 ? current?.ref() : current?.unref());
  const failAll = (error: Error) => {
    for (const [id, job] of pending) {
      pending.delete(id);
      job.reject(error);
    }
    options.onFail?.(error);
  };

  const worker = (): Worker => {
    if (current) return current;
    const started = startModuleWorker(options.base, options.name, options.workerData);
    started.on('message', (message: unknown) => {
      if (!options.isAnswer(message)) {
        if (current === started) options.onNotice?.(message);
        return;
      }
      const job = pending.get(message.id);
      if (!job) return; // aborted meanwhile
      pending.delete(message.id);
      updateRef();
      job.resolve(message);
    });
    started.on('error', (error) => {
      if (current === started) current = undefined;
      failAll(new Error(options.failures.error(error.message)));
    });
    started.on('exit', (code) => {
      if (current === started) current = undefined;
      failAll(new Error(options.failures.exit(code)));
    });
    current = started;
    options.onStart?.();
    updateRef();
    return started;
  };

  const request = (build: (id: number) => Request, signal?: AbortSignal): Promise<Answer> => {
    signal?.throwIfAborted();
    const target = worker();
    const id = nextId++;
    return new Promise<Answer>((resolve, reject) => {
      const onAbort = () => {
        // The worker finishes the request; its answer finds nothing pending and is dropped.
        pending.delete(id);
        updateRef();
        reject(signal!.reason instanceof Error ? signal!.reason : new DOMException('The operation was aborted', 'AbortError'));
      };
      pending.set(id, {
        resolve: (answer) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(answer);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      updateRef();
      target.postMessage(build(id));
    });
  };

  return {
    start: () => void worker(),
    request,
    async close() {
      const stopping = current;
      current = undefined;
      failAll(new Error(options.failures.closed));
      await stopping?.terminate();
    },
  };
}
