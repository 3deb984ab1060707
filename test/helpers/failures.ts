import { expect } from 'vitest';
import { EngineError } from '../../src/errors.js';

/** Awaits a call that must fail with an EngineError, and returns the error. */
export async function failure(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    return error as EngineError;
  }
  throw new Error('expected the call to fail');
}
