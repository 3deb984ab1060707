/*
 * rag/sources/source-policy
 * =========================
 * What `rag_ingest` sources may reach. Paths: only under RAG_INGEST_ROOTS (absolute
 * directories, comma-separated; none by default, so no path is readable until the operator
 * names one); a path with ".." is refused, and the real path (symbolic links resolved) must
 * stay under a root's real path. URLs: http(s) to hosts listed in RAG_INGEST_URL_HOSTS
 * ("docs.example.com", "*.example.com"), every address a name resolves to checked by the
 * platform's address policy, the one http_request uses (RAG_INGEST_URL_ALLOW_CIDRS lets
 * ranges it denies through).
 */
import { realpath, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { isAbsolute, resolve, sep } from 'node:path';
import { invalidInput } from '../../../errors.js';
import { isCidr } from '../../../platform/net/address-policy.js';

/** The raw settings, as the environment gives them. */
export interface SourceSettings {
  roots?: string;
  urlHosts?: string;
  urlAllowCidrs?: string;
}

export function parseRoots(text: string | undefined): string[] {
  const roots = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const root of roots) {
    if (!isAbsolute(root)) throw invalidInput(`RAG_INGEST_ROOTS: "${root}" is not an absolute directory; list absolute paths separated by commas, e.g. /srv/docs,/home/me/notes`);
  }
  return roots.map((root) => resolve(root));
}

/** Whether `path` is `dir` or inside it (both absolute and normalized). */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * A path source → its absolute path and the real paths of the roots a walk must stay under.
 * Refuses paths outside the roots, with "..", and symbolic links that lead out of them.
 */
export async function resolveSourcePath(path: string, settings: SourceSettings): Promise<{ path: string; confine: string[] }> {
  const roots = parseRoots(settings.roots);
  if (roots.length === 0) {
    throw invalidInput(`sources: reading paths is off on this server: set RAG_INGEST_ROOTS to the absolute directories rag_ingest may read (comma-separated), then restart`);
  }
  const listed = roots.join(', ');
  if (!isAbsolute(path)) throw invalidInput(`sources: path "${path}" is not absolute; give a path under RAG_INGEST_ROOTS (${listed})`);
  if (path.split(/[\\/]/).includes('..')) throw invalidInput(`sources: path "${path}" contains ".."; give a path under RAG_INGEST_ROOTS (${listed}) without ".."`);
  const absolute = resolve(path);
  if (!roots.some((root) => isWithin(absolute, root))) throw invalidInput(`sources: path "${path}" is outside RAG_INGEST_ROOTS (${listed})`);
  const realRoots = (await Promise.all(roots.map((root) => realpath(root).catch(() => undefined)))).filter((r): r is string => r !== undefined);
  let real: string;
  try {
    real = await realpath(absolute);
    await stat(real);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalidInput(`sources: path "${path}" cannot be read (${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (code ?? (error as Error).message)})`);
  }
  if (!realRoots.some((root) => isWithin(real, root))) throw invalidInput(`sources: path "${path}" leads outside RAG_INGEST_ROOTS (${listed}) through a symbolic link`);
  return { path: absolute, confine: realRoots };
}

export interface UrlPolicy {
  hosts: string[];
  /** CIDRs whose addresses may be reached although a denied range covers them. */
  allowedNetworks: string[];
}

export function urlPolicy(settings: SourceSettings): UrlPolicy {
  const hosts = (settings.urlHosts ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const allowedNetworks = (settings.urlAllowCidrs ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((cidr) => (cidr.includes('/') ? cidr : `${cidr}/${isIP(cidr) === 6 ? 128 : 32}`));
  for (const cidr of allowedNetworks) {
    if (!isCidr(cidr)) throw invalidInput(`RAG_INGEST_URL_ALLOW_CIDRS: "${cidr}" is not an address or CIDR range; write e.g. 10.0.0.0/8 or fd00::/8`);
  }
  return { hosts, allowedNetworks };
}

/** Refuses a URL whose scheme or host is not allowed (before any request is made). */
export function checkUrl(text: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidInput(`sources: "${text}" is not a URL; give an absolute http or https URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidInput(`sources: ${url.protocol} URLs are not fetched; give an http or https URL`);
  if (url.username || url.password) throw invalidInput('sources: URLs with credentials are refused; remove the user and password from the URL');
  if (policy.hosts.length === 0) throw invalidInput('sources: fetching URLs is off on this server: set RAG_INGEST_URL_HOSTS to the host names rag_ingest may fetch from (comma-separated, "*.example.com" for subdomains), then restart');
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const allowed = policy.hosts.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern));
  if (!allowed) throw invalidInput(`sources: host "${host}" is not in RAG_INGEST_URL_HOSTS (${policy.hosts.join(', ')})`);
  return url;
}
