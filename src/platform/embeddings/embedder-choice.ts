/*
 * Which embedder the environment asks for
 * =======================================
 * EMBEDDINGS_PROVIDER picks the embedder: `offline` (the default), `openai` (the default
 * when EMBEDDINGS_URL is set) or `onnx` (EMBEDDINGS_MODEL_DIR, EMBEDDINGS_THREADS). Checked
 * at start-up, so a missing model stops the server with the command that fetches it.
 */
import { ConfigError } from '../../config/load-config.js';
import { DEFAULT_ONNX_MODEL_DIR, findOnnxModel } from './onnx-embedder.js';

export type EmbedderChoice = { provider: 'offline' } | { provider: 'openai'; url: string } | { provider: 'onnx'; modelDir: string; threads?: number };

export function chooseEmbedder(env: Record<string, string | undefined>): EmbedderChoice {
  const provider = env.EMBEDDINGS_PROVIDER || (env.EMBEDDINGS_URL ? 'openai' : 'offline');
  switch (provider) {
    case 'offline':
      return { provider };
    case 'openai':
      if (!env.EMBEDDINGS_URL) throw new ConfigError(['EMBEDDINGS_PROVIDER=openai needs EMBEDDINGS_URL (the OpenAI-compatible endpoint)']);
      return { provider, url: env.EMBEDDINGS_URL };
    case 'onnx': {
      const threads = env.EMBEDDINGS_THREADS ? Number(env.EMBEDDINGS_THREADS) : undefined;
      if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) {
        throw new ConfigError([`EMBEDDINGS_THREADS: expected a positive integer, got "${env.EMBEDDINGS_THREADS}"`]);
      }
      const modelDir = env.EMBEDDINGS_MODEL_DIR || DEFAULT_ONNX_MODEL_DIR;
      try {
        findOnnxModel(modelDir);
      } catch (error) {
        throw new ConfigError([`EMBEDDINGS_PROVIDER=onnx: ${(error as Error).message}`]);
      }
      return { provider, modelDir, threads };
    }
    default:
      throw new ConfigError([`EMBEDDINGS_PROVIDER: expected offline, openai or onnx, got "${provider}"`]);
  }
}
