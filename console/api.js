// The console's REST client: each operation's route and method come from the server's own
// OpenAPI document; every call carries the operator's credential (an API key as X-API-Key, or
// an OAuth access token as Authorization: Bearer), so scope, policy and audit apply as for any
// client. Errors keep the server's {error: {code, message}}.

const SESSION_STORAGE = 'mcp-level3.console.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let routes;

async function loadRoutes() {
  if (routes) return routes;
  const response = await fetch('/api/docs/openapi.json');
  if (!response.ok) throw new ApiError(response.status, 'UNAVAILABLE', `the server's API description (/api/docs/openapi.json) answered ${response.status}`);
  const document = await response.json();
  const found = new Map();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, entry] of Object.entries(methods)) {
      if (entry && entry.operationId) found.set(entry.operationId, { path, method: method.toUpperCase() });
    }
  }
  routes = found;
  return routes;
}

/**
 * The signed-in operator's credential, kept in this tab only (session storage):
 * `{kind: 'key', key}` or `{kind: 'oauth', token, issuer}`.
 */
export const session = {
  current() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(SESSION_STORAGE) ?? 'null');
      return stored && (stored.kind === 'key' || stored.kind === 'oauth') ? stored : undefined;
    } catch {
      return undefined;
    }
  },
  set: (credential) => sessionStorage.setItem(SESSION_STORAGE, JSON.stringify(credential)),
  clear: () => sessionStorage.removeItem(SESSION_STORAGE),
};

/** The request headers that carry a credential. */
export function credentialHeaders(credential) {
  if (!credential) return {};
  return credential.kind === 'oauth' ? { authorization: `Bearer ${credential.token}` } : { 'x-api-key': credential.key };
}

const sameCredential = (a, b) => Boolean(a && b) && (a.kind === 'oauth' ? a.token === b.token : a.key === b.key);

/** Called when a call with the session's credential is refused with 401 (set by the app). */
export const hooks = { onUnauthorized: () => {} };

/** Tells the app when the session's own credential was refused (not a credential being tried). */
export function refused(status, credential) {
  if (status === 401 && sameCredential(credential, session.current())) hooks.onUnauthorized(credential);
}

/** Calls an operation through REST with the session's credential (or `credential`); resolves to its output. */
export async function call(operation, input = {}, credential = session.current()) {
  const route = (await loadRoutes()).get(operation);
  if (!route) throw new ApiError(404, 'NOT_FOUND', `this server does not serve ${operation} (left out by --toolsets or --read-only?)`);
  const headers = { accept: 'application/json', ...credentialHeaders(credential) };
  let url = route.path;
  let body;
  if (route.method === 'GET') {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(input)) if (value !== undefined && value !== '') query.set(name, String(value));
    if ([...query].length > 0) url += `?${query}`;
  } else {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(input);
  }
  let response;
  try {
    response = await fetch(url, { method: route.method, headers, body });
  } catch {
    throw new ApiError(0, 'UNAVAILABLE', 'the server could not be reached; check that it is running and reload');
  }
  let payload;
  try {
    payload = await response.json();
  } catch {
    payload = undefined;
  }
  if (response.ok) return payload;
  const error = new ApiError(response.status, payload?.error?.code ?? 'ERROR', payload?.error?.message ?? `${operation} answered ${response.status}`);
  refused(response.status, credential);
  throw error;
}
