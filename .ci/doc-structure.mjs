// The shape of a markdown document, for checking that a translation has every section and
// paragraph of its original (used by observability-check.mjs for docs/deployment*.md).
//
// A document is split into sections at its headings (fenced code blocks are skipped, so a
// `# comment` in a shell block is not a heading). Each section is described by its heading
// level and the sequence of its blocks: `p` a paragraph, `code` a fenced block, `table:N` a
// table of N rows, `list:N` a list of N top-level items (an item's continuation lines and
// nested items belong to it). A paragraph, list item or table row the translation lacks, or
// one it has in excess, changes that sequence, whatever the language of the text.
//
// Standalone: node .ci/doc-structure.mjs docs/deployment.md docs/deployment.zh-TW.md
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Sections of a markdown text: [{level, title, line, blocks: string[]}]; text before the first heading is level 0. */
export function structureOf(text) {
  const sections = [{ level: 0, title: '(before the first heading)', line: 1, blocks: [] }];
  let current = sections[0];
  let block; // the open block: {kind, count}
  let fence; // the open fence's marker
  const close = () => {
    if (block) current.blocks.push(block.kind === 'p' || block.kind === 'code' ? block.kind : `${block.kind}:${block.count}`);
    block = undefined;
  };
  text.split('\n').forEach((line, index) => {
    if (fence) {
      if (line.trimStart().startsWith(fence)) fence = undefined;
      return;
    }
    const open = /^\s*(```+|~~~+)/.exec(line);
    if (open) {
      close();
      current.blocks.push('code');
      fence = open[1];
      return;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      close();
      current = { level: heading[1].length, title: heading[2].trim(), line: index + 1, blocks: [] };
      sections.push(current);
      return;
    }
    if (line.trim() === '') {
      // a blank line ends a paragraph or a table; a list goes on if the next item follows
      if (block && block.kind !== 'list') close();
      return;
    }
    const item = /^([-*+]|\d+[.)])\s/.test(line);
    if (/^\s*\|/.test(line)) {
      if (block?.kind !== 'table') { close(); block = { kind: 'table', count: 0 }; }
      if (!/^\s*\|[\s|:-]+\|\s*$/.test(line)) block.count++; // the delimiter row is not a row
    } else if (item) {
      if (block?.kind !== 'list') { close(); block = { kind: 'list', count: 0 }; }
      block.count++;
    } else if (block?.kind === 'list' && /^\s/.test(line)) {
      // continuation or nested item of the current list item
    } else if (!block || block.kind !== 'p') {
      close();
      block = { kind: 'p' };
    }
  });
  close();
  return sections;
}

/**
 * Differences between the structure of an original and its translation: [] when they have the
 * same headings (levels, in order) and, section by section, the same sequence of blocks.
 */
export function structureDiff(original, translation) {
  const [a, b] = [structureOf(original), structureOf(translation)];
  const problems = [];
  const levels = (s) => s.map((x) => x.level).join(',');
  if (levels(a) !== levels(b)) {
    const at = a.findIndex((x, i) => x.level !== b[i]?.level);
    const where = at < 0 ? a.length : at;
    problems.push(`headings differ: ${a.length - 1} against ${b.length - 1}; first at #${where}: ${a[where] ? `${'#'.repeat(a[where].level)} ${a[where].title}` : '(none)'} against ${b[where] ? `${'#'.repeat(b[where].level)} ${b[where].title} (line ${b[where].line})` : '(none)'}`);
    return problems;
  }
  a.forEach((section, i) => {
    const [x, y] = [section.blocks.join(' '), b[i].blocks.join(' ')];
    if (x !== y) problems.push(`section "${section.title}" (line ${section.line}; translation "${b[i].title}", line ${b[i].line}): blocks [${x}] against [${y}]`);
  });
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [original, translation] = process.argv.slice(2);
  const problems = structureDiff(readFileSync(original, 'utf8'), readFileSync(translation, 'utf8'));
  for (const p of problems) console.error(p);
  console.log(JSON.stringify({ sections: structureOf(readFileSync(original, 'utf8')).length - 1, problems: problems.length }));
  process.exit(problems.length ? 1 : 0);
}
