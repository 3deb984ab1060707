/*
 * rag/deferred-index-builds
 * =========================
 * When a collection's vector index gets built on PGlite. pgvector there has no SIMD, so an
 * HNSW index kept current makes every insert slow, while building it once over the rows
 * already stored is several times cheaper per row. A collection that has outgrown
 * exact scans therefore gets its index once ingestion into it has been quiet for a while:
 * every ingest into it postpones the build, builds run in the background one at a time, and
 * close() waits for a running build and cancels waiting ones. Until the build is done,
 * queries scan exactly (the caller asks pending()). The quiet period is a timer, and also
 * checked whenever pending() is asked: a loop of queries that never yields to the event loop
 * (PGlite answers through promises alone) would otherwise keep the timer from firing.
 */
import type { Logger } from '../../platform/log.js';

export interface DeferredIndexBuildsOptions {
  /** Builds a collection's index; called at most once at a time. */
  build: (collection: string) => Promise<void>;
  /** How long ingestion into a collection must have stopped before its index is built. */
  quietMs: number;
  log: Logger;
}

interface Waiting {
  /** The quiet-period timer, while it runs, and when it is due. */
  timer?: NodeJS.Timeout;
  dueAt?: number;
  /** Settles when the build has run (or failed) or was cancelled. */
  done: Promise<void>;
  settle: () => void;
}

export class DeferredIndexBuilds {
  /** Collections whose build is waiting or running. */
  private readonly waiting = new Map<string, Waiting>();
  /** Ingests in flight per collection: while any runs, its build waits. */
  private readonly ingesting = new Map<string, number>();
  /** The builds so far, one after another. */
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: DeferredIndexBuildsOptions) {}

  /** Whether a build for this collection is waiting or running; starts it when it is due. */
  pending(collection: string): boolean {
    const waiting = this.waiting.get(collection);
    if (waiting?.dueAt !== undefined && Date.now() >= waiting.dueAt) {
      this.stopTimer(collection);
      this.enqueue(collection, waiting);
    }
    return waiting !== undefined;
  }

  /** Marks an ingest into the collection as running; call the returned function when it ends. */
  ingestStarted(collection: string): () => void {
    this.ingesting.set(collection, (this.ingesting.get(collection) ?? 0) + 1);
    this.stopTimer(collection);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = this.ingesting.get(collection)! - 1;
      if (left > 0) {
        this.ingesting.set(collection, left);
        return;
      }
      this.ingesting.delete(collection);
      this.startTimer(collection);
    };
  }

  /** The collection needs its index: it is built once ingestion into it is quiet. */
  request(collection: string): void {
    if (this.closed || this.waiting.has(collection)) return;
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    this.waiting.set(collection, { done, settle });
    this.startTimer(collection);
  }

  /** Resolves once the builds requested so far have run or were cancelled. */
  async idle(): Promise<void> {
    await Promise.all([...this.waiting.values()].map((w) => w.done));
  }

  /** Cancels waiting builds and waits for a running one. */
  async close(): Promise<void> {
    this.closed = true;
    for (const collection of this.waiting.keys()) this.stopTimer(collection);
    await this.chain;
    for (const w of this.waiting.values()) w.settle();
    this.waiting.clear();
  }

  private stopTimer(collection: string): void {
    const waiting = this.waiting.get(collection);
    if (waiting?.timer === undefined) return;
    clearTimeout(waiting.timer);
    waiting.timer = undefined;
    waiting.dueAt = undefined;
  }

  private startTimer(collection: string): void {
    const waiting = this.waiting.get(collection);
    if (this.closed || !waiting || this.ingesting.has(collection)) return;
    this.stopTimer(collection);
    waiting.timer = setTimeout(() => this.enqueue(collection, waiting), this.options.quietMs);
    waiting.dueAt = Date.now() + this.options.quietMs;
    // A process that exits without close() does not wait for it; the next query asks again.
    waiting.timer.unref();
  }

  private enqueue(collection: string, waiting: Waiting): void {
    waiting.timer = undefined;
    waiting.dueAt = undefined;
    this.chain = this.chain.then(async () => {
      // Checked again when its turn comes: the app may be closing, or an ingest started
      // (whose end restarts the timer).
      if (this.closed || this.ingesting.has(collection)) return;
      try {
        await this.options.build(collection);
      } catch (error) {
        // Dropped from waiting: the next query that finds no index asks again.
        this.options.log.warn({ collection, err: (error as Error).message }, 'vector index build failed; queries keep scanning exactly');
      }
      this.waiting.delete(collection);
      waiting.settle();
    });
  }
}
