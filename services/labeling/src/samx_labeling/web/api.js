// The labeling API, seen from the browser: one fetch wrapper that adds the bearer token and turns every
// failure into an ApiError with a message a radiologist can read (the UI shows it; nothing fails silently).

const TOKEN_KEY = "samx.labeling.token";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status; // 0 when the server could not be reached
    this.body = body;
  }
}

export const token = {
  // sessionStorage: the token lives as long as the tab, never on disk beyond the browser session.
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function detailText(body, status) {
  const detail = body && typeof body === "object" ? body.detail ?? body.message ?? body.error : body;
  if (typeof detail === "string" && detail) return detail;
  if (Array.isArray(detail)) {
    // FastAPI's validation errors: [{loc: [...], msg: "..."}]
    return detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
  }
  if (detail && typeof detail === "object") return detail.message || JSON.stringify(detail);
  return `HTTP ${status}`;
}

export async function request(method, path, { query, json, accept } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: accept || "application/json" };
  const current = token.get();
  if (current) headers.Authorization = `Bearer ${current}`;
  if (json !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  } catch (err) {
    throw new ApiError(0, `The labeling service cannot be reached (${err.message}).`);
  }
  const type = response.headers.get("Content-Type") || "";
  let body = null;
  if (response.status !== 204) body = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) throw new ApiError(response.status, detailText(body, response.status), body);
  return body;
}

// Thin, named calls: the rest of the UI never builds a URL itself.
const run = (runId) => `/api/v1/runs/${encodeURIComponent(runId)}`;
const cluster = (runId, c) => `${run(runId)}/clusters/${encodeURIComponent(c)}`;

export const api = {
  runs: () => request("GET", "/api/v1/runs"),
  run: (runId) => request("GET", run(runId)),
  clusters: (runId, query) => request("GET", `${run(runId)}/clusters`, { query }),
  cluster: (runId, c) => request("GET", cluster(runId, c)),
  members: (runId, c, order, limit, offset = 0) =>
    request("GET", `${cluster(runId, c)}/members`, { query: { order, limit, offset } }),
  split: (runId, c, version, parts) => request("POST", `${cluster(runId, c)}/split`, { json: { version, parts } }),
  exclude: (runId, c, version, imageIds) =>
    request("POST", `${cluster(runId, c)}/exclude`, { json: { version, image_ids: imageIds } }),
  move: (runId, c, version, imageIds, toCluster) =>
    request("POST", `${cluster(runId, c)}/move`, { json: { version, image_ids: imageIds, to_cluster: toCluster } }),
  label: (runId, c, label, version) => request("PUT", `${cluster(runId, c)}/label`, { json: { label, version } }),
  discard: (runId, c, version, reason) =>
    request("POST", `${cluster(runId, c)}/discard`, { json: { version, reason } }),
  flag: (runId, c, version, flagged) => request("POST", `${cluster(runId, c)}/flag`, { json: { version, flagged } }),
  undo: (runId, c, version) => request("POST", `${cluster(runId, c)}/undo`, { json: { version } }),
  excluded: (runId, limit, offset = 0) => request("GET", `${run(runId)}/excluded`, { query: { limit, offset } }),
  nameImage: (runId, imageId, label, version) =>
    request("PUT", `${run(runId)}/excluded/${encodeURIComponent(imageId)}/label`, { json: { label, version } }),
  undoImage: (runId, imageId, version) =>
    request("POST", `${run(runId)}/excluded/${encodeURIComponent(imageId)}/undo`, { json: { version } }),
  explain: (runId, imageId) => request("GET", `${run(runId)}/images/${encodeURIComponent(imageId)}/explain`),
  progress: (runId) => request("GET", `${run(runId)}/progress`),
  vocabulary: () => request("GET", "/api/v1/vocabulary"),
  publish: (runId, allowIncomplete) =>
    request("POST", `${run(runId)}/publish`, { query: { allow_incomplete: allowIncomplete ? "true" : "" } }),
  labelsets: (runId) => request("GET", `${run(runId)}/labelsets`),
  labelsetCsv: (runId, version) => request("GET", `${run(runId)}/labelsets/${version}.csv`, { accept: "text/csv" }),
};

// Lists come back either bare or wrapped ({items: [...], total}); the UI wants both the items and the total.
export function listOf(body, ...keys) {
  if (Array.isArray(body)) return { items: body, total: body.length };
  for (const key of ["items", ...keys]) {
    if (body && Array.isArray(body[key])) return { items: body[key], total: body.total ?? body[key].length };
  }
  return { items: [], total: 0 };
}
