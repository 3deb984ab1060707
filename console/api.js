// The console's REST client: each operation's route and method come from the server's own
// OpenAPI document; every call carries the operator's API key (X-API-Key), so scope, policy
// and audit apply as for any client. Errors keep the server's {error: {code, message}}.

const KEY_STORAGE = 'mcp-level3.console.apiKey';

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

export const session = {
  key: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

/** Called once when a call with the session's key is refused with 401 (set by the app). */
export const hooks = { onUnauthorized: () => {} };

/** Calls an operation through REST with the session key (or `key`); resolves to its output. */
export async function call(operation, input = {}, key = session.key()) {
  const route = (await loadRoutes()).get(operation);
  if (!route) throw new ApiError(404, 'NOT_FOUND', `this server does not serve ${operation} (left out by --toolsets or --read-only?)`);
  const headers = { accept: 'application/json' };
  if (key) headers['x-api-key'] = key;
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
  if (response.status === 401 && key && key === session.key()) hooks.onUnauthorized(error);
  throw error;
}
