/*
 * rag/sources/url-fetch
 * =====================
 * One document from an http(s) URL, within limits: the host must be allowed
 * (RAG_INGEST_URL_HOSTS) at every redirect, every address the name resolves to must pass the
 * address policy and the connection goes to the address that was checked; at most
 * maxDocumentBytes of body, a time limit for the whole fetch, and only the content types
 * extract.ts reads.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { invalidInput } from '../../../errors.js';
import { checkedLookup, DeniedAddressError } from '../../../platform/net/address-policy.js';
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

function get(url: URL, policy: UrlPolicy, signal: AbortSignal): Promise<IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const reason = policy.addresses.denied(host);
    if (reason) return Promise.reject(new DeniedAddressError(host, host, reason));
  }
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      signal,
      lookup: checkedLookup(policy.addresses) as never,
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
    if (error instanceof DeniedAddressError || (error as { cause?: unknown }).cause instanceof DeniedAddressError) {
      const denied = error instanceof DeniedAddressError ? error : ((error as { cause: DeniedAddressError }).cause);
      throw invalidInput(`${url.href}: ${denied.message}; RAG_INGEST_URL_ALLOW_CIDRS can allow a private range`);
    }
    if (timeout.aborted && !outer?.aborted) throw invalidInput(`${url.href}: no complete answer within ${Math.round(limits.timeoutMs / 1000)} s`);
    if ((error as Error).name === 'EngineError') throw error;
    if (outer?.aborted) throw error;
    throw invalidInput(`${url.href}: cannot be fetched: ${(error as Error).message}`);
  }
}
