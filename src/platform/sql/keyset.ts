/*
 * Keyset pagination
 * =================
 * Lists are read newest-first (or in name order) after the last row of the previous page,
 * never by OFFSET. A cursor is the key of that last row, JSON in base64url: opaque to
 * callers, checked when it comes back. Queries ask for limit + 1 rows; the extra one only
 * says whether there is another page.
 */
import { invalidInput } from '../../errors.js';

export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The key in a cursor, or INVALID_INPUT when it is not one this server issued (`valid` says). */
export function decodeCursor<K>(cursor: string, valid: (key: unknown) => key is K): K {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  if (!valid(key)) throw invalidInput('cursor: not a cursor this server issued; pass nextCursor from the previous page unchanged');
  return key;
}

/** A page of at most `limit` rows from limit + 1 fetched, and the cursor after its last row. */
export function keysetPage<R>(rows: readonly R[], limit: number, keyOf: (row: R) => unknown): { page: R[]; nextCursor?: string } {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : [...rows];
  return more ? { page, nextCursor: encodeCursor(keyOf(page.at(-1)!)) } : { page };
}

/** A positive sequence number, the key of lists ordered by `seq`. */
export const isSeq = (key: unknown): key is number => typeof key === 'number' && Number.isSafeInteger(key) && key > 0;
