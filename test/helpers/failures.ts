import { expect } from 'vitest';
import { ConfigError } from '../../src/config/load-config.js';
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

/** Runs what must refuse the configuration, and returns the problems it names. */
export function configProblems(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}
