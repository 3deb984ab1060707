/*
 * text/tokenize
 * =============
 * The one analyzer behind full-text ranking and the offline embedder: Unicode-aware
 * lower-casing, splitting on anything that is not a letter or digit, an English stop-word
 * list, and Porter stemming (the `stemmer` package). Query and documents go through the
 * same function, so their terms meet.
 */
import { stemmer } from 'stemmer';

// A standard short English stop list (the Lucene/Snowball core): frequent words that carry
// no topic. Kept short on purpose: "not", "no", "without" carry meaning in licenses and specs.
const STOP_WORDS = new Set(
  'a an and are as at be but by for if in into is it its of on or such that the their then there these they this to was were will with from has have had been being which who whom whose what when where why how all any both each few more most other some than too very can just should now i me my we our you your he him his she her them us do does did so s t'.split(
    ' ',
  ),
);

const WORD = /[\p{L}\p{N}]+/gu;
const MAX_TOKEN_LENGTH = 40;

export function isStopWord(word: string): boolean {
  return STOP_WORDS.has(word);
}

/** Words of the text, lower-cased, in order (no stop-word removal, no stemming). */
export function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

// Stemming is a dozen regular expressions per word, and words repeat (Zipf): remembering
// each word's stem made analysis several times cheaper. Cleared when full.
const STEM_MEMO_SIZE = 100_000;
const stems = new Map<string, string>();

function stem(word: string): string {
  let stemmed = stems.get(word);
  if (stemmed === undefined) {
    stemmed = /^\d+$/.test(word) ? word : stemmer(word);
    if (stems.size >= STEM_MEMO_SIZE) stems.clear();
    stems.set(word, stemmed);
  }
  return stemmed;
}

/** Index terms of the text: words minus stop words, stemmed. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) {
    if (word.length > MAX_TOKEN_LENGTH || STOP_WORDS.has(word)) continue;
    out.push(stem(word));
  }
  return out;
}

/** Term frequencies of the text. */
export function termFrequencies(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const term of terms(text)) counts.set(term, (counts.get(term) ?? 0) + 1);
  return counts;
}
