/*
 * rag/graph/heuristic-extractor
 * =============================
 * The offline extractor: deterministic, no model, about as fast as tokenizing. Entities are
 *   - defined terms in quotes ("Licensor", "Derivative Works"),
 *   - runs of capitalized words, with "of"/"for" inside and a trailing version number
 *     ("Free Software Foundation", "Apache License 2.0"), except a lone capitalized word
 *     opening a sentence, which is usually just the sentence's first word,
 *   - acronyms (GPL, MIT).
 * Sentences written in capitals (warranty disclaimers) carry no signal in their case, so
 * only their quoted terms count. Relations join entities of one sentence: neighbours with a
 * short phrase between them get that phrase as label ("Licensor grants You" → "grants"),
 * other pairs within a window of four mentions "co-occurs".
 */
import { buildExtraction, CO_OCCURS, type ChunkExtraction, type EntityExtractor } from './extraction.js';
import { isStopWord } from '../../../platform/text/tokenize.js';

const SENTENCE = /[^.!?;:\n]+(?:[.!?;:](?=\s|$)|\n|$)|[^\n]+/g;
const TOKEN = /[\p{L}\p{N}]+(?:[.'’-][\p{L}\p{N}]+)*/gu;
const QUOTED = /["“]([\p{L}][^"”\n]{0,60}?)["”]/gu;
const CONNECTORS = new Set(['of', 'for']);
const MAX_LABEL_WORDS = 4;
const WINDOW = 4;

interface Mention {
  name: string;
  type: string;
  start: number;
  end: number;
}

const isCapitalized = (word: string) => /^\p{Lu}/u.test(word);
const isAcronym = (word: string) => /^\p{Lu}[\p{Lu}\p{N}]+$/u.test(word) && /\p{Lu}.*\p{Lu}/u.test(word);
const isVersion = (word: string) => /^v?\d+(\.\d+)*$/.test(word);

const UPPER = /\p{Lu}/gu;
const LOWER = /\p{Ll}/gu;

function shouting(sentence: string): boolean {
  const upper = sentence.match(UPPER)?.length ?? 0;
  if (upper < 10) return false;
  return upper > 1.5 * (sentence.match(LOWER)?.length ?? 0);
}

const MAY_NAME = /[\p{Lu}"“]/u;

function mentionsIn(sentence: string): Mention[] {
  const mentions: Mention[] = [];
  if (!MAY_NAME.test(sentence)) return mentions;
  for (const match of sentence.matchAll(QUOTED)) {
    const name = match[1]!.trim();
    if (name.split(/\s+/).length <= 5) mentions.push({ name, type: 'term', start: match.index!, end: match.index! + match[0].length });
  }
  if (!shouting(sentence)) {
    const tokens = [...sentence.matchAll(TOKEN)].map((m) => ({ word: m[0], start: m.index!, end: m.index! + m[0].length }));
    let i = 0;
    while (i < tokens.length) {
      if (!isCapitalized(tokens[i]!.word)) {
        i++;
        continue;
      }
      // Extend the run over capitalized words, connectors followed by one, and versions;
      // only spaces may separate the words of a run.
      let j = i + 1;
      while (j < tokens.length && /^[ \t-]+$/.test(sentence.slice(tokens[j - 1]!.end, tokens[j]!.start))) {
        const word = tokens[j]!.word;
        if (isCapitalized(word)) j++;
        else if (CONNECTORS.has(word) && tokens[j + 1] && isCapitalized(tokens[j + 1]!.word)) j += 2;
        else if (isVersion(word)) {
          j++;
          break;
        } else break;
      }
      let first = i;
      while (first < j - 1 && isStopWord(tokens[first]!.word.toLowerCase())) first++;
      const run = tokens.slice(first, j);
      const single = run.length === 1;
      const opensSentence = first === 0;
      if (!(single && opensSentence && !isAcronym(run[0]!.word)) && !(single && isStopWord(run[0]!.word.toLowerCase()))) {
        const start = run[0]!.start;
        const end = run.at(-1)!.end;
        if (!mentions.some((m) => start < m.end && end > m.start)) mentions.push({ name: sentence.slice(start, end), type: 'name', start, end });
      }
      i = j;
    }
  }
  return mentions.sort((a, b) => a.start - b.start);
}

function labelBetween(text: string): string {
  if (/[,;()"“”]/.test(text)) return CO_OCCURS;
  const words = text.toLowerCase().match(TOKEN) ?? [];
  let from = 0;
  let to = words.length;
  while (from < to && isStopWord(words[from]!)) from++;
  while (to > from && isStopWord(words[to - 1]!)) to--;
  const kept = words.slice(from, to);
  return kept.length > 0 && kept.length <= MAX_LABEL_WORDS ? kept.join(' ') : CO_OCCURS;
}

export function extractHeuristically(text: string): ChunkExtraction {
  const entities: { name: string; type: string }[] = [];
  const relations: { source: string; target: string; label: string }[] = [];
  for (const sentenceMatch of text.matchAll(SENTENCE)) {
    const sentence = sentenceMatch[0];
    const mentions = mentionsIn(sentence);
    for (const mention of mentions) entities.push(mention);
    for (let a = 0; a < mentions.length; a++) {
      for (let b = a + 1; b < Math.min(mentions.length, a + WINDOW); b++) {
        const label = b === a + 1 ? labelBetween(sentence.slice(mentions[a]!.end, mentions[b]!.start)) : CO_OCCURS;
        relations.push({ source: mentions[a]!.name, target: mentions[b]!.name, label });
      }
    }
  }
  return buildExtraction(entities, relations);
}

export const HEURISTIC_EXTRACTOR: EntityExtractor = {
  id: 'heuristic@1',
  async extract(texts) {
    return texts.map(extractHeuristically);
  },
};
