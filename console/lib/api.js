// The console's one way to the REST API: the key from this tab's session storage, JSON in
// and out, and problem+json answers turned into errors that carry the API's own `detail`.
const KEY = 'aitbc.console.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY),
  signIn: (key) => sessionStorage.setItem(KEY, key),
  signOut: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `the gateway answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** A query string from an object, leaving out empty values (unset filters). */
export function queryString(query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '' && value !== false) params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Calls the API; resolves to { body, headers, status }, rejects with ApiError (or a network TypeError). */
export async function api(method, path, { body, query, headers = {} } = {}) {
  // A '.' or '..' segment (an id taken from the address bar, #/gpus/..) would be resolved away
  // by fetch, and the request would go to another route: no id is that, so nothing is found.
  if (path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment))) throw new ApiError(404, { detail: `${path}: not found` });
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  const key = session.key();
  if (key) init.headers['X-Api-Key'] = key;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`${path}${queryString(query)}`, init);
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { detail: text };
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  return { body: parsed, headers: res.headers, status: res.status };
}

/** A fresh Idempotency-Key, so a double click or a retry books once. */
export const idempotencyKey = () => crypto.randomUUID();
