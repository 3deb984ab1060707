/*
 * rag/graph/extraction
 * ====================
 * What an entity extractor returns for one chunk, and the port every extractor implements
 * (the offline heuristic one, a model reached through MCP sampling, an OpenAI-compatible chat
 * endpoint). An entity is identified by its key: its name through the BM25 analyzer, so
 * "Licenses" and "license" are one entity and a query links to it by the same stems.
 */
import { terms } from '../../../platform/text/tokenize.js';

export interface ExtractedEntity {
  /** Analyzer terms of the name joined by spaces; the entity's identity in its collection. */
  key: string;
  /** The name as first written. */
  name: string;
  /** A coarse kind: "name", "term", or what a model said ("organization", "law", ...). */
  type: string;
  /** Mentions in the chunk. */
  count: number;
}

export interface ExtractedRelation {
  source: string;
  target: string;
  /** A short verb phrase ("grants"), or "co-occurs" for entities only seen together. */
  label: string;
}

export interface ChunkExtraction {
  entities: ExtractedEntity[];
  relations: ExtractedRelation[];
}

export interface EntityExtractor {
  /** e.g. "heuristic@1", "sampling", "chat:gpt-4o-mini". */
  readonly id: string;
  /** One extraction per text, in order. Never throws for one bad chunk: it falls back instead. */
  extract(texts: readonly string[], signal?: AbortSignal): Promise<ChunkExtraction[]>;
}

/** Bounds that keep one chunk's graph small whatever an extractor returns. */
export const MAX_ENTITIES_PER_CHUNK = 32;
export const MAX_RELATIONS_PER_CHUNK = 48;
export const MAX_NAME_LENGTH = 120;
export const CO_OCCURS = 'co-occurs';

// Names repeat across chunks (a license's "Licensor" in every section), and stemming is
// the extractor's main cost, so keys are remembered; the cap bounds memory.
const keys = new Map<string, string>();
const MAX_REMEMBERED_KEYS = 50_000;

export function entityKey(name: string): string {
  let key = keys.get(name);
  if (key === undefined) {
    key = terms(name).join(' ');
    if (keys.size >= MAX_REMEMBERED_KEYS) keys.clear();
    keys.set(name, key);
  }
  return key;
}

/**
 * Builds a bounded, deduplicated extraction from named entities and relations between
 * names: names that analyze to nothing (stop words only) are dropped, and relations whose
 * ends are not among the entities.
 */
export function buildExtraction(
  entities: Iterable<{ name: string; type: string; count?: number }>,
  relations: Iterable<{ source: string; target: string; label: string }>,
): ChunkExtraction {
  const byKey = new Map<string, ExtractedEntity>();
  const keyOfName = new Map<string, string>();
  for (const entity of entities) {
    const name = entity.name.trim().replace(/\s+/g, ' ').slice(0, MAX_NAME_LENGTH);
    const key = entityKey(name);
    if (!key) continue;
    keyOfName.set(name.toLowerCase(), key);
    const existing = byKey.get(key);
    if (existing) existing.count += entity.count ?? 1;
    else if (byKey.size < MAX_ENTITIES_PER_CHUNK) byKey.set(key, { key, name, type: entity.type.trim().toLowerCase().slice(0, 40) || 'name', count: entity.count ?? 1 });
  }
  const seen = new Set<string>();
  const out: ExtractedRelation[] = [];
  for (const relation of relations) {
    if (out.length >= MAX_RELATIONS_PER_CHUNK) break;
    const source = keyOfName.get(relation.source.trim().replace(/\s+/g, ' ').toLowerCase()) ?? entityKey(relation.source);
    const target = keyOfName.get(relation.target.trim().replace(/\s+/g, ' ').toLowerCase()) ?? entityKey(relation.target);
    if (!byKey.has(source) || !byKey.has(target) || source === target) continue;
    const label = relation.label.trim().toLowerCase().replace(/\s+/g, ' ').slice(0, 60) || CO_OCCURS;
    const id = `${source}\u0000${target}\u0000${label}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ source, target, label });
  }
  return { entities: [...byKey.values()], relations: out };
}
