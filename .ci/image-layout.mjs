// Lays out the Dockerfile's stages in a directory, without a Docker engine, so CI can run
// the runtime stage as the image would. Understands the instructions the Dockerfile uses:
// ARG, FROM ... AS, WORKDIR, COPY [--from=stage] [--chown=..], RUN, ENV, USER, EXPOSE,
// VOLUME, HEALTHCHECK ... CMD [...], ENTRYPOINT [...], CMD [...], LABEL; anything else is
// an error. COPY sources from the build context must exist and must not be excluded by
// .dockerignore. Each stage's root is <out>/<stage>; absolute paths outside the system
// directories (/app, /data, ...) are mapped into it, in COPY, WORKDIR and RUN alike. RUN
// commands run with bash on this machine (their `node` is whatever is first on PATH).
//
// Usage: node .ci/image-layout.mjs <context-dir> <out-dir>
// Writes <out-dir>/image.json: { root, workdir, env, user, expose, volumes, entrypoint, cmd,
// healthcheck } of the last stage, with paths as in the image (not mapped).
import { execSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, posix, relative, resolve } from 'node:path';

const [contextArg, outArg] = process.argv.slice(2);
if (!contextArg || !outArg) throw new Error('usage: image-layout.mjs <context-dir> <out-dir>');
const context = resolve(contextArg);
const out = resolve(outArg);
const fail = (message) => { console.error(`image-layout: ${message}`); process.exit(1); };

// ------------------------------------------------------------------ .dockerignore
// Docker's rules: patterns are matched against paths relative to the context (filepath.Match
// plus `**`), the last matching pattern wins, `!` re-includes.
function toRegExp(pattern) {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') { re += '.*'; i++; if (pattern[i + 1] === '/') i++; }
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(/.*)?$`);
}
const ignoreRules = existsSync(join(context, '.dockerignore'))
  ? readFileSync(join(context, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
      .map((l) => ({ negate: l.startsWith('!'), re: toRegExp(posix.normalize(l.replace(/^!/, '')).replace(/^\/+/, '')) }))
  : [];
function ignored(rel) {
  let result = false;
  for (const rule of ignoreRules) if (rule.re.test(rel)) result = !rule.negate;
  return result;
}
// Copies a context path into dst, leaving out what .dockerignore excludes.
function copyFromContext(rel, dst) {
  const src = join(context, rel);
  if (!existsSync(src)) fail(`COPY ${rel}: not in the build context`);
  if (ignored(rel)) fail(`COPY ${rel}: excluded by .dockerignore`);
  if (statSync(src).isDirectory()) {
    mkdirSync(dst, { recursive: true });
    for (const entry of readdirSync(src)) {
      const childRel = posix.join(rel, entry);
      if (!ignored(childRel)) copyFromContext(childRel, join(dst, entry));
    }
  } else {
    mkdirSync(join(dst, '..'), { recursive: true });
    cpSync(src, dst);
  }
}

// ------------------------------------------------------------------ parse
const text = readFileSync(join(context, 'Dockerfile'), 'utf8');
const lines = [];
let pending = '';
for (const raw of text.split('\n')) {
  if (!pending && /^\s*#/.test(raw)) continue;
  const line = raw.replace(/\s+$/, '');
  if (line.endsWith('\\')) { pending += line.slice(0, -1) + ' '; continue; }
  const full = (pending + line).trim();
  pending = '';
  if (full) lines.push(full);
}
const args = {};
const sub = (s) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? '');
const SYSTEM = new Set(['bin', 'sbin', 'usr', 'lib', 'lib64', 'etc', 'dev', 'proc', 'sys', 'tmp', 'var', 'opt', 'root', 'home', 'run']);
const stages = [];
let stage;
const map = (p) => { // image path -> directory on this machine
  const abs = posix.isAbsolute(p) ? p : posix.join(stage.workdir, p);
  return join(stage.root, abs);
};
const mapTokens = (cmd) => cmd.replace(/(^|[\s=:])(\/[A-Za-z0-9._/-]+)/g, (m, pre, p) => (SYSTEM.has(p.split('/')[1]) ? m : pre + join(stage.root, p)));
const json = (s, what) => { try { const v = JSON.parse(s); if (Array.isArray(v)) return v; } catch { /* not JSON: reported below */ } return fail(`${what} must be a JSON array (exec form), got ${s}`); };

for (const line of lines) {
  const [, instr, rest0] = line.match(/^(\w+)\s*(.*)$/) ?? fail(`cannot parse: ${line}`);
  const rest = rest0.trim();
  switch (instr.toUpperCase()) {
    case 'ARG': { const [k, v = ''] = rest.split('='); if (!(k in args)) args[k] = v; break; }
    case 'FROM': {
      const m = sub(rest).match(/^(\S+)(?:\s+AS\s+(\S+))?$/i) ?? fail(`FROM ${rest}`);
      stage = { name: m[2] ?? String(stages.length), base: m[1], root: join(out, m[2] ?? String(stages.length)), workdir: '/', env: {}, user: 'root', expose: [], volumes: [] };
      rmSync(stage.root, { recursive: true, force: true });
      mkdirSync(stage.root, { recursive: true });
      stages.push(stage);
      console.error(`image-layout: stage ${stage.name} (FROM ${stage.base})`);
      break;
    }
    case 'WORKDIR': stage.workdir = posix.resolve(stage.workdir, rest); mkdirSync(map(stage.workdir), { recursive: true }); break;
    case 'COPY': {
      const words = rest.split(/\s+/);
      const flags = Object.fromEntries(words.filter((w) => w.startsWith('--')).map((w) => w.slice(2).split('=')));
      const paths = words.filter((w) => !w.startsWith('--'));
      const dest = paths.pop();
      const dir = dest.endsWith('/') || dest === '.' || dest === './' || paths.length > 1;
      for (const src of paths) {
        const target = dir ? join(map(dest), posix.basename(src)) : map(dest);
        if (flags.from) {
          const from = stages.find((s) => s.name === flags.from) ?? fail(`COPY --from=${flags.from}: no such stage`);
          const srcPath = join(from.root, posix.isAbsolute(src) ? src : posix.join(from.workdir, src));
          if (!existsSync(srcPath)) fail(`COPY --from=${flags.from} ${src}: the stage has no such path`);
          cpSync(srcPath, target, { recursive: true });
        } else copyFromContext(posix.normalize(src), target);
      }
      break;
    }
    case 'RUN': {
      const cmd = mapTokens(sub(rest));
      console.error(`image-layout: RUN ${rest}`);
      try { execSync(cmd, { cwd: map(stage.workdir), stdio: ['ignore', 2, 2], shell: '/bin/bash', env: { ...process.env, ...stage.env } }); }
      catch { fail(`RUN ${rest}: failed`); }
      break;
    }
    case 'ENV': for (const m of rest.matchAll(/(\w+)=("[^"]*"|\S+)/g)) stage.env[m[1]] = m[2].replace(/^"|"$/g, ''); break;
    case 'USER': stage.user = rest; break;
    case 'EXPOSE': stage.expose.push(...rest.split(/\s+/)); break;
    case 'VOLUME': stage.volumes.push(...json(rest, 'VOLUME')); break;
    case 'HEALTHCHECK': {
      const m = rest.match(/^(.*?)\bCMD\s+(\[.*\])$/) ?? fail('HEALTHCHECK must end with CMD [...]');
      stage.healthcheck = { options: m[1].trim(), cmd: json(m[2], 'HEALTHCHECK CMD') };
      break;
    }
    case 'ENTRYPOINT': stage.entrypoint = json(rest, 'ENTRYPOINT'); break;
    case 'CMD': stage.cmd = json(rest, 'CMD'); break;
    case 'LABEL': break;
    default: fail(`unsupported instruction ${instr}`);
  }
}
const last = stages.at(-1) ?? fail('no FROM');
const image = { root: last.root, base: last.base, workdir: last.workdir, env: last.env, user: last.user, expose: last.expose, volumes: last.volumes, entrypoint: last.entrypoint ?? [], cmd: last.cmd ?? [], healthcheck: last.healthcheck ?? null };
writeFileSync(join(out, 'image.json'), JSON.stringify(image, null, 2) + '\n');
console.error(`image-layout: runtime stage ${last.name} laid out in ${relative(process.cwd(), last.root) || last.root}`);
