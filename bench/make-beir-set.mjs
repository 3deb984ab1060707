#!/usr/bin/env node
/*
 * A BEIR-format retrieval set built from the text a Debian machine already has
 * ============================================================================
 *   npm run eval:make-set -- --out DIR [--docs 20000] [--queries 1000] [--seed 1]
 *     [--max-chars 12000] [--man-root /usr/share/man] [--doc-root /usr/share/doc]
 *
 * Known-item search over manual pages. A page's NAME line ("ls - list directory contents")
 * gives the query ("list directory contents"); the relevant document is the page rendered to
 * plain text *without* that line (title = the names before the dash). The rest of the corpus
 * is real text that is not a man page: Debian changelog entries (/usr/share/doc/<pkg>/
 * changelog.Debian.gz) and sections of README files under /usr/share/doc. Man pages make up at
 * most half of the corpus.
 *
 * A query is kept only if it has exactly one defensible answer in the corpus:
 *   - it has at least two content words (not "utility", "perl module"),
 *   - no other page in the corpus has the same description,
 *   - its text does not occur in its own page once the NAME line is gone (otherwise the label
 *     would be circular: gcloud pages, for one, repeat it as their first sentence),
 *   - its text occurs in no other document of the corpus (a parent page listing its
 *     subcommands' descriptions would be an equally good answer).
 *
 * Deterministic for a given machine: inputs are sorted, every sample is "the N smallest
 * sha256(seed:id)", pages are rendered by groff with fixed settings. DIR receives corpus.jsonl,
 * queries.jsonl, qrels.tsv and PROVENANCE.md (counts, sources, what was dropped and why).
 * Needs groff (Debian: groff-base, which man-db depends on). Progress goes to stderr.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';

const usage = 'usage: node bench/make-beir-set.mjs --out DIR [--docs 20000] [--queries 1000] [--seed 1] [--max-chars 12000] [--man-root DIR] [--doc-root DIR]';
const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    docs: { type: 'string', default: '20000' },
    queries: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'max-chars': { type: 'string', default: '12000' },
    'man-root': { type: 'string', default: '/usr/share/man' },
    'doc-root': { type: 'string', default: '/usr/share/doc' },
  },
});
const fail = (message) => {
  process.stderr.write(`make-beir-set: ${message}\n${usage}\n`);
  process.exit(2);
};
const positive = (name) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a positive integer, got ${JSON.stringify(values[name])}`);
  return n;
};
if (!values.out) fail('--out DIR is required');
const DOCS = positive('docs');
const QUERIES = positive('queries');
const MAX_CHARS = positive('max-chars');
const MIN_CHARS = 300;
const SEED = values.seed;
const MAN_ROOT = values['man-root'];
const DOC_ROOT = values['doc-root'];
const log = (message) => process.stderr.write(`[make-beir-set] ${message}\n`);

const groffVersion = spawnSync('groff', ['--version'], { encoding: 'utf8' });
if (groffVersion.error || groffVersion.status !== 0) fail('groff is not installed (Debian: apt-get install groff-base); it renders the man pages');
if (!existsSync(MAN_ROOT)) fail(`${MAN_ROOT} does not exist; point --man-root at a directory with man1..man8`);

const sha = (text) => createHash('sha256').update(text).digest('hex');
/** The seeded order every sample uses: stable under additions elsewhere in the inputs. */
const rank = (id) => sha(`${SEED}:${id}`);
const byRank = (a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : 0);
/** Lower case, punctuation to spaces, padded so that `includes` matches whole words. */
const normalize = (text) => ` ${text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim()} `;
const readMaybeGzip = (path) => {
  const raw = readFileSync(path);
  return path.endsWith('.gz') ? gunzipSync(raw) : raw;
};
/** Cut at a paragraph (else line) boundary so no document exceeds MAX_CHARS. */
function cap(text) {
  if (text.length <= MAX_CHARS) return text;
  const cut = text.lastIndexOf('\n\n', MAX_CHARS);
  const at = cut > MAX_CHARS / 2 ? cut : Math.max(text.lastIndexOf('\n', MAX_CHARS), MAX_CHARS / 2);
  return text.slice(0, at).trimEnd();
}
const tidy = (lines) =>
  lines
    .map((line) => line.trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();

// ---------------------------------------------------------------- man pages
const dropped = { manSymlink: 0, manSoRedirect: 0, manGcloudTrack: 0, manRenderFailed: 0, manTooShort: 0, manDuplicateText: 0 };

/** gcloud ships each command up to three times (GA, beta, alpha) with near-identical pages. */
function gcloudKey(file) {
  const m = /^gcloud_(?:(alpha|beta|preview)_)?(.+)$/.exec(file);
  return m ? { key: m[2], track: { undefined: 0, beta: 1, alpha: 2, preview: 3 }[m[1]] } : undefined;
}

function listManPages() {
  const pages = [];
  const gcloud = new Map();
  for (let section = 1; section <= 8; section++) {
    const dir = join(MAN_ROOT, `man${section}`);
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).sort()) {
      const path = join(dir, file);
      if (lstatSync(path).isSymbolicLink()) {
        dropped.manSymlink++;
        continue;
      }
      if (!lstatSync(path).isFile()) continue;
      const id = `man:${file.replace(/\.gz$/, '')}`;
      const g = gcloudKey(file);
      if (g) {
        const kept = gcloud.get(g.key);
        if (kept && kept.track <= g.track) {
          dropped.manGcloudTrack++;
          continue;
        }
        if (kept) dropped.manGcloudTrack++;
        gcloud.set(g.key, { track: g.track, page: { id, path, section, rank: rank(id) } });
        continue;
      }
      pages.push({ id, path, section, rank: rank(id) });
    }
  }
  for (const { page } of gcloud.values()) pages.push(page);
  return pages.sort(byRank);
}

function groff(source) {
  return new Promise((resolve) => {
    // -k: preconv picks the input encoding; -rHY=0 no hyphenation; a wide line keeps paragraphs whole;
    // -P-cbou: plain characters, no SGR or overstrike.
    const child = spawn('groff', ['-k', '-Tutf8', '-mandoc', '-t', '-P-cbou', '-rHY=0', '-rLL=250n'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    const out = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (data) => out.push(data));
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? Buffer.concat(out).toString('utf8') : undefined);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(source);
  });
}

/** Rendered page → {names, description, text}; the NAME section is left out of text. */
function parseRendered(rendered) {
  const lines = rendered.split('\n').map((l) => l.trimEnd());
  while (lines.length && !lines[0]) lines.shift();
  while (lines.length && !lines.at(-1)) lines.pop();
  lines.shift(); // running header "LS(1)  User Commands  LS(1)"
  lines.pop(); // running footer
  const body = [];
  let nameLines;
  let inName = false;
  for (const line of lines) {
    if (/^\S/.test(line)) {
      inName = /^NAME\s*$/.test(line);
      if (inName) {
        nameLines = [];
        continue;
      }
    }
    if (inName) nameLines.push(line.trim());
    else body.push(line);
  }
  const text = tidy(body);
  const nameLine = (nameLines ?? []).filter(Boolean).join(' ');
  const m = /^(.+?)\s+[-‐‑–—−]+\s+(.+)$/.exec(nameLine);
  return { names: m ? m[1].trim() : nameLine || undefined, description: m ? m[2].trim().replace(/\.$/, '') : undefined, text };
}

/** A page that is only ".so man1/other.1" (after comments) is an alias of another page. */
function isAlias(source) {
  if (source.length > 4096) return false;
  const first = source
    .toString('latin1')
    .split('\n')
    .find((line) => line.trim() && !/^['.]\\"/.test(line));
  return first !== undefined && /^\.so\s/.test(first);
}

async function render(page) {
  const source = readMaybeGzip(page.path);
  if (isAlias(source)) return { ...page, dropped: 'manSoRedirect' };
  const output = await groff(source);
  if (!output) return { ...page, dropped: 'manRenderFailed' };
  const { names, description, text } = parseRendered(output);
  if (text.length < MIN_CHARS) return { ...page, dropped: 'manTooShort' };
  const file = basename(page.path).replace(/\.gz$/, '');
  return { ...page, title: names || file.replace(/\.[^.]+$/, ''), description, text: cap(text), fingerprint: sha(normalize(text)), gcloud: file.startsWith('gcloud_') };
}

/**
 * Renders pages in seeded order, in rounds, until `wanted` are kept. Filtering happens on the
 * rank-sorted results, so which copy of a repeated text is kept does not depend on timing.
 */
async function renderManPages(pages, wanted) {
  const results = [];
  let next = 0;
  let kept = [];
  while (kept.length < wanted && next < pages.length) {
    const round = pages.slice(next, next + Math.ceil((wanted - kept.length) * 1.1) + 8);
    next += round.length;
    let i = 0;
    const worker = async () => {
      while (i < round.length) {
        results.push(await render(round[i++]));
        if (results.length % 500 === 0) log(`rendered ${results.length} of at most ${pages.length} man pages`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, worker));
    results.sort(byRank);
    const seen = new Set();
    kept = [];
    for (const key of Object.keys(dropped)) if (key !== 'manSymlink' && key !== 'manGcloudTrack') dropped[key] = 0;
    for (const result of results) {
      if (result.dropped) dropped[result.dropped]++;
      else if (seen.has(result.fingerprint)) dropped.manDuplicateText++;
      else {
        seen.add(result.fingerprint);
        kept.push(result);
      }
    }
  }
  return kept.slice(0, wanted);
}

// ---------------------------------------------------------------- distractors
/** Every doc-dir file matching `pattern`, once per real file (packages share doc dirs by symlink). */
function docFiles(pattern) {
  if (!existsSync(DOC_ROOT)) return [];
  const seen = new Set();
  const out = [];
  for (const pkg of readdirSync(DOC_ROOT).sort()) {
    const dir = join(DOC_ROOT, pkg);
    let entries;
    try {
      entries = readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const file of entries) {
      if (!pattern.test(file)) continue;
      let real;
      try {
        real = realpathSync(join(dir, file));
        if (!lstatSync(real).isFile()) continue;
      } catch {
        continue;
      }
      if (seen.has(real)) continue;
      seen.add(real);
      out.push({ pkg, file, path: real });
    }
  }
  return out;
}

function changelogEntries() {
  const entries = [];
  for (const { pkg, path } of docFiles(/^changelog\.Debian(\.gz)?$/)) {
    let text;
    try {
      text = readMaybeGzip(path).toString('utf8');
    } catch {
      continue;
    }
    let current;
    // Most entries are a line or two ("New upstream release"): consecutive entries of one
    // package are joined until the document reaches MIN_CHARS.
    let group = [];
    const flush = () => {
      const body = group.map((e) => e.text).join('\n\n');
      const versions = group.length > 1 ? `${group[0].version} to ${group.at(-1).version}` : group[0].version;
      entries.push({ pkg, title: `${group[0].source} ${versions}`, id: `changelog:${group[0].source}:${group[0].version}`, text: body });
      group = [];
    };
    for (const line of text.split('\n')) {
      const header = /^([a-z0-9][a-z0-9+.-]*) \(([^)]+)\) [^;]*;.*urgency=/i.exec(line);
      if (header) {
        current = { source: header[1], version: header[2], lines: [] };
        continue;
      }
      if (!current) continue;
      const trailer = /^ -- (.*?)\s*<[^>]*>\s+(.*)$/.exec(line);
      if (trailer) {
        // the maintainer's name and date stay (real text); the e-mail address goes
        current.lines.push(`-- ${trailer[1]}, ${trailer[2].trim()}`);
        group.push({ ...current, text: `${current.source} (${current.version})\n${tidy(current.lines)}` });
        if (group.reduce((sum, e) => sum + e.text.length, 0) >= MIN_CHARS) flush();
        current = undefined;
        continue;
      }
      current.lines.push(line);
    }
  }
  return entries.map((e) => ({ ...e, source: 'changelog' }));
}

const SECTION_CHARS = 2000;
const SECTIONS_PER_FILE = 40;

/**
 * Plain-text files cut into sections: paragraphs gathered up to SECTION_CHARS, a new section
 * at each heading; at most SECTIONS_PER_FILE from the top of a file (the newest part of a
 * changelog), so that a few huge files do not make up the pool.
 */
function textSections(pattern, source) {
  const sections = [];
  for (const { pkg, file, path } of docFiles(pattern)) {
    if (/\.(html?|pdf|png|jpe?g|svg|xz|bz2)(\.gz)?$/i.test(file)) continue;
    let text;
    try {
      text = readMaybeGzip(path).toString('utf8');
    } catch {
      continue;
    }
    if (text.includes('\u0000') || text.includes('\uFFFD')) continue;
    const paragraphs = text.replace(/\r/g, '').replace(/<[^<>\s]+@[^<>\s]+>/g, '').split(/\n\s*\n/);
    let part = [];
    let length = 0;
    let n = 0;
    const name = file.replace(/\.gz$/, '');
    const flush = () => {
      const body = tidy(part.join('\n\n').split('\n'));
      if (body && n < SECTIONS_PER_FILE) {
        n++;
        sections.push({ pkg, title: `${pkg} ${name} (part ${n})`, id: `${source}:${pkg}/${name}#${n}`, text: cap(body), source });
      }
      part = [];
      length = 0;
    };
    for (const paragraph of paragraphs) {
      if (n >= SECTIONS_PER_FILE) break;
      if (length > 0 && (length + paragraph.length > SECTION_CHARS || /^(#{1,3} |[A-Z][^\n]{2,60}\n[=-]{3,}$)/.test(paragraph))) flush();
      part.push(paragraph);
      length += paragraph.length;
    }
    flush();
  }
  return sections;
}

// ---------------------------------------------------------------- assemble
const started = performance.now();
const allPages = listManPages();
log(`${allPages.length} man pages to consider under ${MAN_ROOT} (symlinks and extra gcloud release tracks left out)`);
const manWanted = Math.min(allPages.length, Math.ceil(DOCS / 2));
const manDocs = await renderManPages(allPages, manWanted);
log(`${manDocs.length} man pages rendered and kept`);

const distractorsWanted = DOCS - manDocs.length;
const pool = [];
const seenDistractor = new Set();
let droppedDistractorShort = 0;
let droppedDistractorDuplicate = 0;
const poolCounts = { changelog: 0, readme: 0, news: 0 };
const distractorSources = [
  ...changelogEntries(),
  ...textSections(/^README([._-].*)?$/i, 'readme'),
  // upstream change logs and release notes (changelog.Debian is read above)
  ...textSections(/^(NEWS|CHANGES|HISTORY|RELEASE[-_]?NOTES|changelog)([._-].*)?$/i, 'news').filter((d) => !/changelog\.Debian/i.test(d.id)),
];
for (const doc of distractorSources) {
  if (doc.text.length < MIN_CHARS) {
    droppedDistractorShort++;
    continue;
  }
  // the same changelog is installed by every binary package of a source package
  const fingerprint = sha(normalize(doc.text));
  if (seenDistractor.has(fingerprint)) {
    droppedDistractorDuplicate++;
    continue;
  }
  seenDistractor.add(fingerprint);
  poolCounts[doc.source]++;
  pool.push({ ...doc, rank: rank(doc.id) });
}
pool.sort(byRank);
// Ids must be unique; a changelog title repeats when two packages carry the same version line.
const usedIds = new Set(manDocs.map((d) => d.id));
const distractors = [];
for (const doc of pool) {
  if (distractors.length >= distractorsWanted) break;
  let id = doc.id;
  for (let i = 2; usedIds.has(id); i++) id = `${doc.id}#${i}`;
  usedIds.add(id);
  distractors.push({ ...doc, id });
}
if (manDocs.length + distractors.length < DOCS) {
  fail(`only ${manDocs.length} man pages and ${distractors.length} distractors could be found, fewer than --docs ${DOCS}; ask for fewer documents`);
}
log(`${distractors.length} distractors sampled from ${pool.length} (${poolCounts.changelog} Debian changelog entries, ${poolCounts.readme} README sections, ${poolCounts.news} upstream change log / NEWS sections)`);

const corpus = [...manDocs.map((d) => ({ ...d, source: 'man' })), ...distractors].sort(byRank);

// ---------------------------------------------------------------- queries
const STOP = new Set('a an and are as at be by for from in into is it its of on or that the this to with without via'.split(' '));
const queryDrops = { noDescription: 0, generic: 0, sameDescription: 0, inOwnPage: 0, inOtherDocument: 0 };
const byDescription = new Map();
for (const doc of manDocs) {
  if (!doc.description) continue;
  const key = normalize(doc.description);
  byDescription.set(key, (byDescription.get(key) ?? 0) + 1);
}
let candidates = [];
for (const doc of manDocs) {
  if (!doc.description) {
    queryDrops.noDescription++;
    continue;
  }
  const q = normalize(doc.description);
  const words = q.trim().split(' ');
  if (words.filter((w) => !STOP.has(w) && !/^\d+$/.test(w)).length < 2 || q.trim().length < 12) {
    queryDrops.generic++;
    continue;
  }
  if (byDescription.get(q) > 1) {
    queryDrops.sameDescription++;
    continue;
  }
  if (normalize(doc.text).includes(q)) {
    queryDrops.inOwnPage++;
    continue;
  }
  candidates.push({ doc, q, words });
}
// The query's text in another document: an inverted index over the query words only, then
// a substring check on the documents holding every word.
const queryWords = new Set(candidates.flatMap((c) => c.words));
const postings = new Map([...queryWords].map((w) => [w, new Set()]));
const normalized = corpus.map((d) => normalize(d.text));
normalized.forEach((text, index) => {
  for (const word of new Set(text.trim().split(' '))) postings.get(word)?.add(index);
});
const indexOf = new Map(corpus.map((d, i) => [d.id, i]));
candidates = candidates.filter(({ doc, q, words }) => {
  const lists = [...new Set(words)].map((w) => postings.get(w)).sort((a, b) => a.size - b.size);
  const others = [...lists[0]].filter((i) => i !== indexOf.get(doc.id) && lists.every((list) => list.has(i)));
  if (others.some((i) => normalized[i].includes(q))) {
    queryDrops.inOtherDocument++;
    return false;
  }
  return true;
});
const queries = candidates.sort((a, b) => byRank(a.doc, b.doc)).slice(0, QUERIES);
if (queries.length === 0) fail('no man page gave a usable query; is --man-root a tree of English man pages?');

// ---------------------------------------------------------------- write
mkdirSync(values.out, { recursive: true });
const corpusText = corpus.map((d) => JSON.stringify({ _id: d.id, title: d.title, text: d.text, metadata: { source: d.source } })).join('\n') + '\n';
writeFileSync(join(values.out, 'corpus.jsonl'), corpusText);
writeFileSync(join(values.out, 'queries.jsonl'), queries.map(({ doc }) => JSON.stringify({ _id: `q:${doc.id.slice(4)}`, text: doc.description })).join('\n') + '\n');
writeFileSync(join(values.out, 'qrels.tsv'), `query-id\tcorpus-id\tscore\n${queries.map(({ doc }) => `q:${doc.id.slice(4)}\t${doc.id}\t1\n`).join('')}`);

const count = (list, predicate) => list.filter(predicate).length;
const os = existsSync('/etc/os-release') ? (/^PRETTY_NAME="?([^"\n]*)/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown') : 'unknown';
const chars = corpus.reduce((sum, d) => sum + d.text.length, 0);
const provenance = `# Provenance of this retrieval set

Generated ${new Date().toISOString()} by \`bench/make-beir-set.mjs\` on ${os}
(${groffVersion.stdout.split('\n')[0]}), with

    node bench/make-beir-set.mjs --out ${values.out} --docs ${DOCS} --queries ${QUERIES} --seed ${SEED} --max-chars ${MAX_CHARS} --man-root ${MAN_ROOT} --doc-root ${DOC_ROOT}

The set depends on the packages installed on the machine that built it: do not compare
figures across machines without comparing these counts. sha256 of corpus.jsonl: \`${sha(corpusText)}\`.

## Task

Known-item search. Each query is the one-line description from a man page's NAME section
(\`ls - list directory contents\` → "list directory contents"); its one relevant document
(score 1) is that page rendered to plain text with the NAME section removed. Everything else
in the corpus is judged not relevant.

## Corpus: ${corpus.length} documents, ${chars.toLocaleString('en-US')} characters

| source | documents | what |
| --- | --- | --- |
| man pages | ${manDocs.length} (${count(manDocs, (d) => d.gcloud)} of them gcloud) | ${MAN_ROOT}/man[1-8], rendered by \`groff -k -Tutf8 -mandoc -t\` (no hyphenation, 250-column lines), running header, footer and NAME section removed, indentation stripped; title = the names before the dash |
| Debian changelog entries | ${count(distractors, (d) => d.source === 'changelog')} | ${DOC_ROOT}/*/changelog.Debian[.gz], one entry per document, or consecutive entries of one package joined until they reach ${MIN_CHARS} characters (title "source version[ to version]", e-mail addresses removed) |
| README sections | ${count(distractors, (d) => d.source === 'readme')} | ${DOC_ROOT}/*/README*, paragraphs grouped into sections of up to ${SECTION_CHARS} characters (a new one at each heading), at most ${SECTIONS_PER_FILE} per file, e-mail addresses removed |
| upstream change log and NEWS sections | ${count(distractors, (d) => d.source === 'news')} | ${DOC_ROOT}/*/{changelog,NEWS,CHANGES,HISTORY,RELEASE-NOTES}*, cut the same way (the first ${SECTIONS_PER_FILE} sections of a file: its newest part) |

Man pages are at most half the corpus (${manWanted} wanted, from ${allPages.length} candidates in a
seeded order); distractors fill the rest, sampled from a pool of ${pool.length}
(${poolCounts.changelog} Debian changelog documents, ${poolCounts.readme} README sections, ${poolCounts.news} upstream
change log and NEWS sections). Every sample
takes the smallest sha256("${SEED}:" + id). Documents are at least ${MIN_CHARS} characters and are cut
at a paragraph boundary at ${MAX_CHARS}.

Left out: ${dropped.manSymlink} man-page symlinks, ${dropped.manSoRedirect} \`.so\` alias pages,
${dropped.manGcloudTrack} gcloud pages of a second release track (alpha/beta copies of a command
whose most stable page is kept), ${dropped.manRenderFailed} pages groff could not render,
${dropped.manTooShort} pages under ${MIN_CHARS} characters, ${dropped.manDuplicateText} pages whose text
repeats another's; ${droppedDistractorShort} distractors under ${MIN_CHARS} characters and
${droppedDistractorDuplicate} repeated ones (a changelog installed by several packages).

## Queries: ${queries.length} (of ${candidates.length} usable)

Dropped before sampling:

| reason | queries |
| --- | --- |
| page has no NAME description | ${queryDrops.noDescription} |
| too generic (fewer than two content words) | ${queryDrops.generic} |
| another page in the corpus has the same description | ${queryDrops.sameDescription} |
| the description still occurs in its own page (circular label) | ${queryDrops.inOwnPage} |
| the description occurs in another document (a second right answer) | ${queryDrops.inOtherDocument} |

Of the queries kept, ${count(queries, (q) => q.doc.gcloud)} come from gcloud pages and
${count(queries, (q) => !q.doc.gcloud)} from other man pages; by section:
${[1, 2, 3, 4, 5, 6, 7, 8].map((s) => `${s}: ${count(queries, (q) => q.doc.section === s)}`).join(', ')}.
`;
writeFileSync(join(values.out, 'PROVENANCE.md'), provenance);
log(`wrote ${corpus.length} documents, ${queries.length} queries to ${values.out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.stdout.write(`${JSON.stringify({ out: values.out, docs: corpus.length, queries: queries.length, man: manDocs.length, distractors: distractors.length, queryDrops })}\n`);
