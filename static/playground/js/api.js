// fetch() wrapper for the REST API (docs/CONTRACTS.md section 3) and the edit-token store.

export const API_ROOT = "/api/v1";
const TOKEN_PREFIX = "mmp:edit-token:";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `Request failed with status ${status}`);
    this.status = status;
    this.detail = (body && body.detail) || this.message;
    this.errors = (body && Array.isArray(body.errors) && body.errors) || [];
  }
}

export function tokenFor(scenarioId) {
  try {
    return localStorage.getItem(TOKEN_PREFIX + scenarioId);
  } catch {
    return null;
  }
}

export function saveToken(scenarioId, token) {
  if (!token) return;
  try {
    localStorage.setItem(TOKEN_PREFIX + scenarioId, token);
  } catch {
    // Private mode without storage: the page still works read-only after a reload.
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** One API call. body: object (sent as JSON) or string (sent as contentType). */
export async function request(method, path, { body, token, contentType } = {}) {
  const headers = { Accept: "application/json" };
  const csrf = csrfToken();
  if (csrf) headers["X-CSRFToken"] = csrf;
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (typeof body === "string") {
    headers["Content-Type"] = contentType || "application/yaml";
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(API_ROOT + path, { method, headers, body: payload, credentials: "same-origin" });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 300) };
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const createScenario = (doc) =>
  request("POST", "/scenarios", typeof doc === "string" ? { body: doc, contentType: "application/yaml" } : { body: doc });
export const lintConfiguration = (doc) => request("POST", "/lint", { body: doc });
export const importNode = (body) => request("POST", "/import", { body });
export const getScenario = (id) => request("GET", `/scenarios/${encodeURIComponent(id)}`);
export const canEditWith = (id, token) =>
  request("GET", `/scenarios/${encodeURIComponent(id)}/access`, { token });
export const getEvents = (id, after = 0) => request("GET", `/scenarios/${encodeURIComponent(id)}/events?after=${after}`);
export const getStateAt = (id, version) =>
  request("GET", `/scenarios/${encodeURIComponent(id)}/state?version=${encodeURIComponent(version)}`);
export const submitPods = (id, token, body) =>
  request("POST", `/scenarios/${encodeURIComponent(id)}/pods`, { body, token });
export const deletePod = (id, token, name) =>
  request("DELETE", `/scenarios/${encodeURIComponent(id)}/pods/${encodeURIComponent(name)}`, { token });
export const restartKubelet = (id, token) =>
  request("POST", `/scenarios/${encodeURIComponent(id)}/restart`, { body: {}, token });
export const exportScenario = (id) => request("GET", `/scenarios/${encodeURIComponent(id)}/export?expect=false`);
export const forkScenario = (id, version) =>
  request("POST", `/scenarios/${encodeURIComponent(id)}/fork`, { body: version == null ? {} : { version } });

/** Turn an ApiError into lines "path: message" for display. */
export function errorLines(error) {
  if (!(error instanceof ApiError)) return [String(error && error.message ? error.message : error)];
  if (!error.errors.length) return [error.detail];
  return error.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
}
