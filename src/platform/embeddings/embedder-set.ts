/*
 * The embedders a server can run
 * ===============================
 * New collections are embedded with the default (the configured embedder). A collection
 * keeps the embedder that filled it: its vectors only compare with query vectors of the same
 * model. So a collection filled by the offline embedder keeps working after the default
 * became the neural model (the offline embedder can always be rebuilt from its id), until
 * `mcp-level3 rag reembed` moves it to the default.
 */
import type { EmbeddingsPort } from './embeddings-port.js';
import { offlineEmbedderForId } from './offline-embedder.js';

export interface Embedders {
  /** What new collections are embedded with. */
  readonly default: EmbeddingsPort;
  /** Why the default is the offline embedder though the neural model was wanted; undefined otherwise. */
  readonly fallback?: string;
  /** The embedder with this id, when this process can run it. */
  forId(id: string): EmbeddingsPort | undefined;
  close(): Promise<void>;
}

export function createEmbedders(defaultEmbedder: EmbeddingsPort, fallback?: string): Embedders {
  const others = new Map<string, EmbeddingsPort>();
  return {
    default: defaultEmbedder,
    fallback,
    forId(id) {
      if (id === defaultEmbedder.id) return defaultEmbedder;
      let embedder = others.get(id);
      if (!embedder) {
        embedder = offlineEmbedderForId(id);
        if (embedder) others.set(id, embedder);
      }
      return embedder;
    },
    async close() {
      await defaultEmbedder.close?.();
    },
  };
}
