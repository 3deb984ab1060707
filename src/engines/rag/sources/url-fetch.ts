/*
 * rag/sources/url-fetch
 * =====================
 * One document from an http(s) URL, within limits: the host must be allowed
 * (RAG_INGEST_URL_HOSTS) at every redirect, every address the name resolves to must pass the
 * address policy and the connection goes to the address that was checked; at most
 * maxDocumentBytes of body, a time limit for the whole fetch, and only the content types
 * extract.ts reads.
 */
import { lookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { invalidInput } from '../../../errors.js';
import { checkAddress } from '../../../platform/net/address-policy.js';
import { mediaTypeOfContentType } from './extract.js';
import { checkUrl, type UrlPolicy } from './source-policy.js';

export interface FetchLimits {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects?: number;
}

export interface Fetched {
  url: URL;
  bytes: Buffer;
  mediaType: string;
}

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);

interface Resolved {
  address: string;
  family: 4 | 6;
}

/** Every address of the host, each checked; one denied address refuses the host. */
async function resolveChecked(url: URL, policy: UrlPolicy): Promise<Resolved[]> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Resolved[];
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) as 4 | 6 }];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
    } catch (error) {
      throw invalidInput(`${url.href}: cannot resolve "${host}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  for (const { address } of addresses) {
    const verdict = checkAddress(address, policy.allowedNetworks);
    if (!verdict.allowed) {
      throw invalidInput(`${url.href}: "${host}" resolves to ${address}, in ${verdict.range} (${verdict.what}), which ingestion may not reach; RAG_INGEST_URL_ALLOW_CIDRS can allow a range`);
    }
  }
  if (addresses.length === 0) throw invalidInput(`${url.href}: "${host}" has no address`);
  return addresses;
}

async function get(url: URL, policy: UrlPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const addresses = await resolveChecked(url, policy);
  // The socket gets the checked addresses instead of asking DNS again (TLS still verifies the name).
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all) (callback as unknown as (error: null, found: Resolved[]) => void)(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      signal,
      agent: false,
      lookup: pinned,
      headers: { accept: 'text/html, text/markdown, text/plain, application/pdf, application/vnd.openxmlformats-officedocument.wordprocessingml.document;q=0.9, */*;q=0.1', 'user-agent': 'mcp-level3-ingest' },
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

/** Fetches a URL already checked by checkUrl; throws EngineError saying what went wrong. */
export async function fetchDocument(start: URL, policy: UrlPolicy, limits: FetchLimits, outer?: AbortSignal): Promise<Fetched> {
  const timeout = AbortSignal.timeout(limits.timeoutMs);
  const signal = outer ? AbortSignal.any([outer, timeout]) : timeout;
  let url = start;
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await get(url, policy, signal);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        if (redirects >= (limits.maxRedirects ?? 5)) throw invalidInput(`${start.href}: more than ${limits.maxRedirects ?? 5} redirects`);
        url = checkUrl(new URL(response.headers.location, url).href, policy);
        continue;
      }
      if (status !== 200) {
        response.resume();
        throw invalidInput(`${url.href}: the server answered HTTP ${status}`);
      }
      const contentType = response.headers['content-type'];
      const mediaType = mediaTypeOfContentType(contentType);
      if (!mediaType) {
        response.resume();
        throw invalidInput(`${url.href}: content type "${contentType ?? 'none'}" is not ingested; text, markdown, HTML, PDF and DOCX are`);
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        response.destroy();
        throw invalidInput(`${url.href}: ${mib(declared)} MiB, over the ${mib(limits.maxBytes)} MiB limit (RAG_engine.settings.maxDocumentBytes)`);
      }
      const parts: Buffer[] = [];
      let size = 0;
      for await (const part of response as AsyncIterable<Buffer>) {
        size += part.length;
        if (size > limits.maxBytes) {
          response.destroy();
          throw invalidInput(`${url.href}: over the ${mib(limits.maxBytes)} MiB limit (RAG_engine.settings.maxDocumentBytes)`);
        }
        parts.push(part);
      }
      return { url, bytes: Buffer.concat(parts), mediaType };
    }
  } catch (error) {
    if (timeout.aborted && !outer?.aborted) throw invalidInput(`${url.href}: no complete answer within ${Math.round(limits.timeoutMs / 1000)} s`);
    if ((error as Error).name === 'EngineError') throw error;
    if (outer?.aborted) throw error;
    throw invalidInput(`${url.href}: cannot be fetched: ${(error as Error).message}`);
  }
}
