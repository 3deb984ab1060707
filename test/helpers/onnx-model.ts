/*
 * The ONNX embedding model for the suites that need it: EMBEDDINGS_MODEL_DIR, else where
 * `npm run model:fetch` puts it. When it is not there those suites are skipped, and their
 * title says how to get it.
 */
import { DEFAULT_ONNX_MODEL_DIR, findOnnxModel } from '../../src/platform/embeddings/onnx-embedder.js';

export const ONNX_MODEL_DIR = process.env.EMBEDDINGS_MODEL_DIR || DEFAULT_ONNX_MODEL_DIR;

/** Why the ONNX suites are skipped, or undefined when the model and runtime are there. */
export const onnxModelMissing: string | undefined = (() => {
  try {
    findOnnxModel(ONNX_MODEL_DIR);
    return undefined;
  } catch (error) {
    return `run npm run model:fetch or set EMBEDDINGS_MODEL_DIR; ${(error as Error).message}`;
  }
})();

/** The id the ONNX embedder of that model reports (collections record it). */
export const ONNX_EMBEDDER_ID: string = onnxModelMissing ? 'onnx:unavailable' : `onnx:${findOnnxModel(ONNX_MODEL_DIR).name}@1`;
