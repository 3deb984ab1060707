/*
 * platform/linear-regex
 * =====================
 * User-supplied regular expressions (JSON Schema `pattern` and `patternProperties`,
 * JSONata regex literals) run on RE2 (re2js, a pure-JavaScript port): matching takes time
 * linear in the input, so a pattern like `^(a+)+$` cannot stall the event loop the way
 * JavaScript's backtracking engine does. RE2 has no backreferences and no lookaround; a
 * pattern that uses them is refused when it is compiled, with the reason.
 */
import { LRUCache } from 'lru-cache';
import { RE2JS } from 're2js';

export class UnsupportedPatternError extends Error {
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`pattern ${JSON.stringify(pattern)} cannot be used: ${reason}. Patterns run on RE2 (linear-time matching), which has no backreferences (\\1), lookahead ((?=, (?!) or lookbehind ((?<=, (?<!); rewrite it without them`);
    this.name = 'UnsupportedPatternError';
  }
}

const compiledPatterns = new LRUCache<string, RE2JS>({ max: 5000 });

/** Compiles a JavaScript-syntax pattern with JavaScript flags (i, m, s; g, u and y need nothing). */
export function compileLinear(pattern: string, flags = ''): RE2JS {
  const key = `${flags}/${pattern}`;
  const cached = compiledPatterns.get(key);
  if (cached) return cached;
  let bits = 0;
  for (const flag of flags) {
    if (flag === 'i') bits |= RE2JS.CASE_INSENSITIVE;
    else if (flag === 'm') bits |= RE2JS.MULTILINE;
    else if (flag === 's') bits |= RE2JS.DOTALL;
  }
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(pattern), bits);
  } catch (error) {
    throw new UnsupportedPatternError(pattern, (error as Error).message);
  }
  compiledPatterns.set(key, compiled);
  return compiled;
}

/** ajv's `code.regExp` option: `pattern` and `patternProperties` test with RE2. */
export const ajvLinearRegExp = Object.assign(
  (pattern: string, flags: string) => {
    const re = compileLinear(pattern, flags);
    return { test: (text: string) => re.test(text), toString: () => `/${pattern}/${flags}` };
  },
  { code: 'linearRegExp' },
);

/**
 * A RegExp look-alike on RE2 for JSONata's `RegexEngine` option: JSONata constructs it from
 * the RegExp its parser made (compiled, never run) and calls exec() from lastIndex.
 */
export class LinearRegExp {
  lastIndex = 0;
  readonly source: string;
  readonly flags: string;
  private readonly re: RE2JS;

  constructor(pattern: RegExp | string, flags?: string) {
    this.source = typeof pattern === 'string' ? pattern : pattern.source;
    this.flags = typeof pattern === 'string' ? (flags ?? '') : pattern.flags;
    this.re = compileLinear(this.source, this.flags);
  }

  exec(text: string): RegExpExecArray | null {
    const global = this.flags.includes('g') || this.flags.includes('y');
    const from = global ? this.lastIndex : 0;
    const matcher = this.re.matcher(text);
    if (from > text.length || !matcher.find(from)) {
      if (global) this.lastIndex = 0;
      return null;
    }
    const groups: (string | undefined)[] = [matcher.group() ?? ''];
    for (let i = 1; i <= matcher.groupCount(); i++) groups.push(matcher.group(i) ?? undefined);
    const result = Object.assign(groups, { index: matcher.start(), input: text, groups: undefined }) as unknown as RegExpExecArray;
    if (global) this.lastIndex = matcher.end();
    return result;
  }

  test(text: string): boolean {
    return this.exec(text) !== null;
  }

  toString(): string {
    return `/${this.source}/${this.flags}`;
  }
}
