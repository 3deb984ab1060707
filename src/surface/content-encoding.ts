/*
 * Content in a JSON result
 * ========================
 * Artifact bytes travel as text when their media type is textual and they are UTF-8, and
 * as base64 otherwise: the same rule for tool results and resource reads.
 */

const TEXTUAL = /^(text\/|application\/(json|yaml|x-yaml|xml|javascript|toml|x-ndjson|sql)\b)|\+(json|yaml|xml)\b/i;

/** Text when the media type is textual and the bytes are UTF-8, base64 otherwise. */
export function encodeContent(media: string, content: Uint8Array): { encoding: 'utf8' | 'base64'; content: string } {
  if (TEXTUAL.test(media)) {
    try {
      return { encoding: 'utf8', content: new TextDecoder('utf-8', { fatal: true }).decode(content) };
    } catch {
      // not UTF-8 after all: fall back to base64
    }
  }
  return { encoding: 'base64', content: Buffer.from(content).toString('base64') };
}
