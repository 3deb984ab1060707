/*
 * rag/sources/glob
 * ================
 * --include / --exclude patterns against a file's path relative to the root it was found
 * under, with "/" separators: `*` any characters but "/", `**` any directories, `?` one
 * character, `{a,b}` alternatives. A pattern without "/" matches a file or directory name at
 * any depth (`*.md`, `drafts`), as in .gitignore.
 */
import { invalidInput } from '../../../errors.js';

export type PathMatcher = (relativePath: string) => boolean;

function toRegExp(pattern: string): RegExp {
  let out = '';
  let braces = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const slash = pattern[i + 2] === '/';
        out += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  if (braces > 0) throw invalidInput(`pattern "${pattern}": a "{" is not closed; write e.g. "*.{md,txt}"`);
  return new RegExp(`^${out}$`);
}

/** One matcher for several patterns: true when any matches. */
export function compileGlobs(patterns: readonly string[]): PathMatcher | undefined {
  if (patterns.length === 0) return undefined;
  const compiled = patterns.map((pattern) => {
    const trimmed = pattern.replace(/^\.\//, '').replace(/\/$/, '/**');
    const anyDepth = !trimmed.includes('/');
    return { regexp: toRegExp(trimmed), anyDepth };
  });
  return (path) => {
    const names = path.split('/');
    return compiled.some(({ regexp, anyDepth }) => (anyDepth ? names.some((name) => regexp.test(name)) : regexp.test(path)));
  };
}
