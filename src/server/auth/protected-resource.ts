/*
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) and Bearer challenges
 * ======================================================================
 * What an MCP client needs to find out how to get a token for this server: the document
 * at /.well-known/oauth-protected-resource[/mcp] names the resource (this server's MCP
 * URL), its authorization server and scopes; every 401 points at it in WWW-Authenticate,
 * and a 403 for a missing scope names the scope (RFC 6750 insufficient_scope).
 */
import type { Authenticator } from './authenticator.js';

export const METADATA_PATH = '/.well-known/oauth-protected-resource';

/** This server's resource URL: configured, or the MCP endpoint at the Host the request used. */
export function resourceUrl(configured: string, host: string | undefined, secure: boolean): string {
  if (configured) return configured;
  return `${secure ? 'https' : 'http'}://${host ?? 'localhost'}/mcp`;
}

/** The metadata URL for a resource: the well-known prefix ahead of its path (RFC 9728 §3.1). */
export function metadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}${METADATA_PATH}${path}`;
}

export function protectedResourceMetadata(resource: string, methods: Authenticator['methods'], scopes: readonly string[]) {
  return {
    resource,
    ...(methods.oauth2 ? { authorization_servers: [methods.oauth2.issuer] } : {}),
    scopes_supported: [...scopes],
    bearer_methods_supported: ['header'],
    resource_name: 'mcp-level3',
  };
}

const quote = (value: string) => `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** WWW-Authenticate values for a 401 or an insufficient-scope 403. */
export function challenges(
  methods: Authenticator['methods'],
  resource: string,
  problem?: { error: 'invalid_token' | 'invalid_request' | 'insufficient_scope'; description: string; scope?: string },
): string[] {
  const values: string[] = [];
  if (methods.jwt || methods.oauth2) {
    const params = [`resource_metadata=${quote(metadataUrl(resource))}`];
    if (problem) params.push(`error=${quote(problem.error)}`, `error_description=${quote(problem.description.replace(/[^\x20-\x7e]/g, ''))}`);
    if (problem?.scope) params.push(`scope=${quote(problem.scope)}`);
    values.push(`Bearer ${params.join(', ')}`);
  }
  if (methods.apiKey) values.push(`ApiKey header=${quote(methods.apiKey.header)}`);
  return values;
}
