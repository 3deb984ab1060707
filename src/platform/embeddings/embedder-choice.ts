/*
 * Which embedder the environment asks for
 * =======================================
 * EMBEDDINGS_PROVIDER picks the embedder:
 * - unset (the default): the local neural model (all-MiniLM-L6-v2, quantized) that
 *   `npm install` puts in models/ (scripts/fetch-model.mjs) and the container image bakes
 *   in; when it is missing, or onnxruntime-node is, the offline hashed embedder, with the
 *   reason kept in `fallback` so the log and rag_collections can say which embedder answers.
 * - `onnx`: that model, or another one in EMBEDDINGS_MODEL_DIR (EMBEDDINGS_THREADS: how many
 *   threads embed, each a worker with one ONNX Runtime thread); a
 *   missing model stops the server with the command that fetches it.
 * - `openai` (the default when EMBEDDINGS_URL is set): an OpenAI-compatible endpoint.
 * - `offline`: the hashed embedder, asked for by name (no fallback note).
 */
import { ConfigError } from '../../config/load-config.js';
import { DEFAULT_ONNX_MODEL_DIR, findOnnxModel } from './onnx-embedder.js';

export type EmbedderChoice =
  | { provider: 'offline'; fallback?: string }
  | { provider: 'openai'; url: string }
  | { provider: 'onnx'; modelDir: string; workers?: number };

export function chooseEmbedder(env: Record<string, string | undefined>): EmbedderChoice {
  const provider = env.EMBEDDINGS_PROVIDER || (env.EMBEDDINGS_URL ? 'openai' : undefined);
  switch (provider) {
    case undefined: {
      const modelDir = env.EMBEDDINGS_MODEL_DIR || DEFAULT_ONNX_MODEL_DIR;
      try {
        findOnnxModel(modelDir);
      } catch (error) {
        return { provider: 'offline', fallback: (error as Error).message };
      }
      return { provider: 'onnx', modelDir, workers: workersFrom(env) };
    }
    case 'offline':
      return { provider };
    case 'openai':
      if (!env.EMBEDDINGS_URL) throw new ConfigError(['EMBEDDINGS_PROVIDER=openai needs EMBEDDINGS_URL (the OpenAI-compatible endpoint)']);
      return { provider, url: env.EMBEDDINGS_URL };
    case 'onnx': {
      const modelDir = env.EMBEDDINGS_MODEL_DIR || DEFAULT_ONNX_MODEL_DIR;
      const workers = workersFrom(env);
      try {
        findOnnxModel(modelDir);
      } catch (error) {
        throw new ConfigError([`EMBEDDINGS_PROVIDER=onnx: ${(error as Error).message}`]);
      }
      return { provider, modelDir, workers };
    }
    default:
      throw new ConfigError([`EMBEDDINGS_PROVIDER: expected offline, openai or onnx (or unset: the local model when installed), got "${provider}"`]);
  }
}

/** EMBEDDINGS_THREADS: how many threads embed, each a worker running the model on one ONNX Runtime thread. */
function workersFrom(env: Record<string, string | undefined>): number | undefined {
  const threads = env.EMBEDDINGS_THREADS ? Number(env.EMBEDDINGS_THREADS) : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
    throw new ConfigError([`EMBEDDINGS_THREADS: expected a positive integer, got "${env.EMBEDDINGS_THREADS}"`]);
  }
  return threads;
}
