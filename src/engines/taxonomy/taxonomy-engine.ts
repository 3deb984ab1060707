/*
 * taxonomy engine
 * ===============
 * The shared vocabulary: concepts loaded once from the ontology file, looked up by IRI, id
 * or label (fuzzy: stemmed terms, substrings and edit distance), walked as a tree, and
 * matched against text. Classification uses the same analyzer as full-text search (rag's
 * tokenize: lower-casing, stop words, Porter stems), so "classifiers" meets "classifier".
 */
import { distance } from 'fastest-levenshtein';
import { invalidInput, notFound } from '../../errors.js';
import { terms } from '../../platform/text/tokenize.js';
import type { Concept } from './ontology-loader.js';

export interface ConceptMatch {
  concept: Concept;
  score: number;
}

export interface Classification {
  concept: Concept;
  score: number;
  evidence: string[];
}

interface LabelEntry {
  concept: Concept;
  text: string;
  normalized: string;
  terms: string[];
  preferred: boolean;
}

const normalize = (text: string) => text.toLowerCase().replace(/[\s_-]+/g, ' ').trim();

function containsRun(haystack: readonly string[], needle: readonly string[]): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

export class TaxonomyEngine {
  private readonly byId = new Map<string, Concept>();
  private readonly byKey = new Map<string, Concept>();
  private readonly labels: LabelEntry[] = [];
  private readonly definitionTerms = new Map<Concept, Set<string>>();

  constructor(readonly concepts: readonly Concept[]) {
    for (const concept of concepts) {
      this.byId.set(concept.id, concept);
      this.byKey.set(concept.iri, concept);
      this.byKey.set(concept.id.toLowerCase(), concept);
      for (const [text, preferred] of [[concept.label, true], ...concept.altLabels.map((a) => [a, false] as const)] as const) {
        this.labels.push({ concept, text, normalized: normalize(text), terms: terms(text), preferred });
        if (!this.byKey.has(normalize(text))) this.byKey.set(normalize(text), concept);
      }
      this.definitionTerms.set(concept, new Set(terms(concept.definition ?? '')));
    }
  }

  get(id: string): Concept {
    const concept = this.byId.get(id) ?? this.byKey.get(id);
    if (!concept) throw notFound(`no concept "${id}" in the ontology (taxonomy_lookup finds concepts by label)`);
    return concept;
  }

  /** A declared class: an id, IRI or label, exactly (case and spacing aside). */
  resolve(value: string): Concept | undefined {
    return this.byKey.get(value) ?? this.byKey.get(normalize(value));
  }

  lookup(query: string, limit: number): ConceptMatch[] {
    const exact = this.resolve(query);
    const q = normalize(query);
    const queryTerms = terms(query);
    const best = new Map<Concept, number>();
    const offer = (concept: Concept, score: number) => {
      if (score > (best.get(concept) ?? 0)) best.set(concept, score);
    };
    if (exact) offer(exact, 1);
    for (const entry of this.labels) {
      if (entry.normalized === q) offer(entry.concept, entry.preferred ? 1 : 0.95);
      else if (queryTerms.length > 0 && queryTerms.every((t) => entry.terms.includes(t))) offer(entry.concept, 0.85 * (queryTerms.length / Math.max(entry.terms.length, queryTerms.length)) + 0.1);
      else if (q.length >= 3 && (entry.normalized.includes(q) || (!/[:/#]/.test(q) && entry.normalized.length >= 4 && q.includes(entry.normalized)))) offer(entry.concept, 0.6);
      else {
        const similarity = 1 - distance(q, entry.normalized) / Math.max(q.length, entry.normalized.length);
        if (similarity >= 0.7) offer(entry.concept, 0.8 * similarity);
      }
    }
    return [...best]
      .map(([concept, score]) => ({ concept, score: Math.round(score * 1000) / 1000 }))
      .sort((a, b) => b.score - a.score || a.concept.id.localeCompare(b.concept.id))
      .slice(0, limit);
  }

  /** Pre-order walk from root (or every concept without a parent) down to depth levels below. */
  tree(rootId: string | undefined, depth: number): { id: string; label: string; parent: string | null; depth: number }[] {
    const roots = rootId ? [this.get(rootId)] : this.concepts.filter((c) => c.parents.length === 0);
    const out: { id: string; label: string; parent: string | null; depth: number }[] = [];
    const walk = (concept: Concept, parent: string | null, level: number, path: Set<string>) => {
      out.push({ id: concept.id, label: concept.label, parent, depth: level });
      if (level >= depth || path.has(concept.id)) return;
      const next = new Set(path).add(concept.id);
      for (const child of concept.children) walk(this.byId.get(child)!, concept.id, level + 1, next);
    };
    for (const root of roots) walk(root, null, 0, new Set());
    return out;
  }

  /**
   * Concepts whose labels occur in the text (as a run of stemmed terms), ranked: a preferred
   * label counts more than an alternative one, longer labels more than short ones; words of
   * a concept's definition add a little when two or more of them occur.
   */
  classify(text: string, limit: number): Classification[] {
    const textTerms = terms(text);
    if (textTerms.length === 0) throw invalidInput('text: has no words to classify');
    const present = new Set(textTerms);
    const scored = new Map<Concept, Classification>();
    const entry = (concept: Concept) => {
      let found = scored.get(concept);
      if (!found) scored.set(concept, (found = { concept, score: 0, evidence: [] }));
      return found;
    };
    for (const label of this.labels) {
      if (label.terms.length === 0 || !containsRun(textTerms, label.terms)) continue;
      const match = entry(label.concept);
      match.score += (label.preferred ? 1.2 : 0.8) * (1 + 0.5 * (label.terms.length - 1));
      match.evidence.push(`${label.preferred ? 'label' : 'alt label'} "${label.text}"`);
    }
    for (const [concept, definition] of this.definitionTerms) {
      const shared = [...definition].filter((t) => present.has(t));
      if (shared.length < 2) continue;
      const match = entry(concept);
      match.score += 0.15 * shared.length;
      match.evidence.push(`definition terms ${shared.map((t) => `"${t}"`).join(', ')}`);
    }
    return [...scored.values()]
      .map((c) => ({ ...c, score: Math.round(c.score * 1000) / 1000 }))
      .sort((a, b) => b.score - a.score || a.concept.id.localeCompare(b.concept.id))
      .slice(0, limit);
  }

  /** The registry gate: every class an artifact declares must be in the ontology. */
  checkDeclared(value: string): Concept[] {
    const names = value.split(',').map((s) => s.trim()).filter(Boolean);
    return names.map((name) => {
      const concept = this.resolve(name);
      if (concept) return concept;
      const suggestions = this.lookup(name, 3).map((m) => `"${m.concept.label}"`);
      throw invalidInput(
        `labels.taxonomy: unknown class "${name}"${suggestions.length ? `; did you mean ${suggestions.join(', ')}?` : ''} (taxonomy_lookup finds classes; separate several with commas)`,
      );
    });
  }
}

/** The label key through which an artifact declares its taxonomy classes. */
export const TAXONOMY_LABEL = 'taxonomy';
