/*
 * validation/structured-content
 * =============================
 * Artifact bytes → a value a JSON Schema can check, by media type: JSON (application/json,
 * *+json) or YAML (application/yaml, text/yaml, *+yaml). Other types are tried as JSON.
 */
import { parse as parseYaml } from 'yaml';
import { invalidInput } from '../../errors.js';

const essence = (mediaType: string) => mediaType.split(';')[0]!.trim().toLowerCase();

export function isYamlMediaType(mediaType: string): boolean {
  const type = essence(mediaType);
  return type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml' || type.endsWith('+yaml');
}

export function parseStructuredContent(mediaType: string, bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalidInput(`${what}: content is not UTF-8 text, so it cannot be validated against a JSON Schema`);
  }
  if (isYamlMediaType(mediaType)) {
    try {
      return parseYaml(text);
    } catch (error) {
      throw invalidInput(`${what}: content is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidInput(`${what}: content of media type ${mediaType} is not valid JSON (${(error as Error).message}); schemas validate JSON or YAML content`);
  }
}
