/*
 * SQL errors a caller can act on
 * ==============================
 * Both adapters pass driver errors through here, so engines and the invoke path see the
 * same EngineError whichever database answered: a lost connection is UNAVAILABLE (retry),
 * and input the database cannot store is INVALID_INPUT (fix the input). Every other error
 * (constraint violations engines handle themselves, bugs) passes through unchanged.
 */
import { EngineError, invalidInput } from '../../errors.js';

const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);

// PostgreSQL refuses NUL (\u0000) in text and jsonb: 22P05 untranslatable character, 22021
// invalid byte sequence. It comes from the caller's input, so it is the caller's to fix.
const UNSTORABLE_TEXT_CODES = new Set(['22P05', '22021']);

export function translateSqlError(error: unknown): unknown {
  if (error instanceof EngineError) return error;
  const code = (error as { code?: unknown }).code;
  const message = (error as Error).message ?? String(error);
  if ((typeof code === 'string' && UNAVAILABLE_CODES.has(code)) || /Connection terminated|timeout exceeded when trying to connect/i.test(message)) {
    return new EngineError('UNAVAILABLE', `the database is not reachable right now (${message}); retry shortly`);
  }
  if (typeof code === 'string' && UNSTORABLE_TEXT_CODES.has(code)) {
    return invalidInput('the input holds a character the database cannot store (the NUL character, \\u0000); remove it');
  }
  // numeric_value_out_of_range: a number from the input is larger than its column takes.
  if (code === '22003') return invalidInput(`a number in the input is too large to store (${message}); use a smaller value`);
  return error;
}

/** Runs fn, translating what it throws. */
export async function translated<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw translateSqlError(error);
  }
}
