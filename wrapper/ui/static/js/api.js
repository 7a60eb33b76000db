// The /v1 API as the dashboard calls it: the session (the token typed once, kept in this tab's
// sessionStorage, sent only in the Authorization header) and errors as problem+json.
const KEY = "trainq.session";

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY));
  } catch {
    return null;
  }
}

export function saveSession(value) {
  sessionStorage.setItem(KEY, JSON.stringify(value));
}

export function clearSession() {
  sessionStorage.removeItem(KEY);
}

// An RFC 9457 problem answered by the API (status 0: the request got no answer).
export class Problem extends Error {
  constructor(status, title, detail, errors) {
    super(detail || title);
    Object.assign(this, { status, title, detail, errors });
  }
}

export async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new Problem(response.status, body?.title || response.statusText || "Error",
    body?.detail || null, body?.errors || null);
}

export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${session()?.token || ""}`, ...extra };
}

export function url(path, params = {}) {
  const out = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") out.searchParams.set(key, value);
  }
  return out;
}

export async function call(method, path, { params, signal } = {}) {
  let response;
  try {
    response = await fetch(url(path, params), {
      method, signal, cache: "no-store", headers: authHeaders({ Accept: "application/json" }),
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new Problem(0, "No answer", String(error.message || error));
  }
  if (!response.ok) throw await problemOf(response);
  return response.json();
}

export const get = (path, options) => call("GET", path, options);
export const post = (path, options) => call("POST", path, options);
export const remove = (path, options) => call("DELETE", path, options);
export const teamPath = (team, rest = "") => `/v1/teams/${encodeURIComponent(team)}${rest}`;
