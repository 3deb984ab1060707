/*
 * SHA-256, the one digest the project uses: content addresses (`sha256:<hex>`), audit
 * chains, key and secret hashes, and cache keys.
 */
import { createHash } from 'node:crypto';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A content address: "sha256:" and the hex digest. */
export function sha256Digest(data: string | Uint8Array): string {
  return `sha256:${sha256Hex(data)}`;
}

/** A short digest for keys (cache keys): base64url. */
export function sha256Key(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('base64url');
}
