/*
 * The ONNX embedder's pooling and model card, without a model: `mean` (all-MiniLM-L6-v2)
 * averages a text's token states, `cls` (bge-small-en-v1.5) takes its first; both
 * L2-normalize. model.json's pooling and queryPrefix are read and checked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnnxModel, poolAndNormalize } from '../../src/platform/embeddings/onnx-embedder.js';

// Two rows padded to 3 tokens of width 2; row 0 has 3 real tokens, row 1 has 2.
const hidden = new Float32Array([3, 0, 0, 4, 0, 4, /* row 1 */ 0, 2, 2, 0, 9, 9]);

describe('ONNX embedder pooling', () => {
  it('mean: the normalized sum of the real tokens, padding left out', () => {
    const [a, b] = poolAndNormalize(hidden, [3, 2], 3, 2, 'mean');
    // Row 0 sums to (3, 8), row 1 to (2, 2).
    expect(a![0]).toBeCloseTo(3 / Math.hypot(3, 8), 6);
    expect(a![1]).toBeCloseTo(8 / Math.hypot(3, 8), 6);
    expect(b![0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(b![1]).toBeCloseTo(Math.SQRT1_2, 6);
  });

  it('cls: the normalized first token', () => {
    const [a, b] = poolAndNormalize(hidden, [3, 2], 3, 2, 'cls');
    expect(Array.from(a!)).toEqual([1, 0]);
    expect(Array.from(b!)).toEqual([0, 1]);
  });
});

describe('ONNX model card', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnx-card-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const card = (fields: Record<string, unknown>) => {
    writeFileSync(join(dir, 'model.onnx'), '');
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ name: 'm', dimensions: 384, maxTokens: 512, ...fields }));
    return findOnnxModel(dir);
  };

  it('defaults to mean pooling and no query prefix', () => {
    expect(card({})).toMatchObject({ pooling: 'mean', queryPrefix: '' });
  });

  it("reads bge's cls pooling and query instruction", () => {
    const prefix = 'Represent this sentence for searching relevant passages: ';
    expect(card({ pooling: 'cls', queryPrefix: prefix })).toMatchObject({ pooling: 'cls', queryPrefix: prefix });
  });

  it('refuses a pooling it does not know', () => {
    expect(() => card({ pooling: 'max' })).toThrow(/pooling "max"/);
  });
});
