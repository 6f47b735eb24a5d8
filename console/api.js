// The console's only door to billow: fetch + the bearer token + Idempotency-Key + problem+json.
//
// - The access token lives in this module's memory only (never localStorage, sessionStorage or a
//   cookie): a reload or a new tab signs in again.
// - A user action that moves money gets one Idempotency-Key (an `Action`); when the request is sent
//   again because the first reply never arrived (network failure, dropped connection, 503, 409
//   idempotency-in-progress) it goes with the SAME key, so billow replays the first answer instead of
//   charging twice. A new click with another body is a new action, hence a new key.
// - Errors are RFC 9457 problem+json: `detail` is shown to people, `code` drives the console's logic.

const session = { token: null, accountId: null };
let apiUrl = "";
const unauthorizedListeners = new Set();

export function configure(config) {
  apiUrl = String(config.apiUrl || "").replace(/\/+$/, "");
}

export function signIn(token, accountId) {
  session.token = token;
  session.accountId = accountId;
}

/** The same person (token) on another account they are a member of (a link naming `?account=`). */
export function switchAccount(accountId) {
  session.accountId = accountId;
}

export function signOut() {
  session.token = null;
  session.accountId = null;
}

export const isSignedIn = () => Boolean(session.token && session.accountId);
export const accountId = () => session.accountId;

/** Called (once per 401) when billow says the token is missing, invalid or expired. */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = (problem && (problem.detail || problem.title)) || `HTTP ${status}`;
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.code = (problem && problem.code) || (status === 0 ? "network-error" : `http-${status}`);
    this.detail = detail;
    this.errors = (problem && problem.errors) || [];
    this.problem = problem || null;
  }

  /** Whether sending the same request again (same key) may succeed: nothing definitive was answered. */
  get retryable() {
    return this.status === 0 || this.status >= 500 || this.code === "idempotency-in-progress";
  }
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * One user action (a "Pay" click, a bulk associate): its Idempotency-Key is made once and kept
 * while the action is retried with the same body; `settle()` forgets it after a definitive answer.
 */
export class Action {
  constructor() {
    this.key = null;
    this.body = null;
  }

  keyFor(body) {
    const text = JSON.stringify(body ?? null);
    if (!this.key || text !== this.body) {
      this.key = newKey();
      this.body = text;
    }
    return this.key;
  }

  /** After an answer: a success or a definitive refusal ends the action; a retryable failure keeps the key. */
  settle(error) {
    if (!error || !(error instanceof ApiError) || !error.retryable) {
      this.key = null;
      this.body = null;
    }
  }
}

/** `/v1/accounts/{the signed-in account}` + path. */
export function acct(path = "") {
  return `/v1/accounts/${encodeURIComponent(session.accountId || "")}${path}`;
}

function url(path, query) {
  const u = new URL(apiUrl + path);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") u.searchParams.set(name, value);
  }
  return u.toString();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function retryDelay(response, attempt) {
  const header = response && response.headers.get("Retry-After");
  const seconds = header && /^\d+$/.test(header) ? Number(header) : null;
  return Math.min(seconds !== null ? seconds * 1000 : 400 * 2 ** attempt, 3000);
}

async function readProblem(response) {
  try {
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/**
 * Send one request. Options: body (JSON), query, key (Idempotency-Key), as ("json" | "blob" | "text").
 * With a key, a request whose reply is lost (network error), 503 or 409 idempotency-in-progress is
 * sent again with the same key, up to `attempts` times. Without one, only GETs are sent again.
 */
export async function request(method, path, options = {}) {
  const { body, query, key, as = "json" } = options;
  const safe = method === "GET" || Boolean(key);
  const attempts = options.attempts ?? (safe ? 3 : 1);
  const headers = { Accept: as === "json" ? "application/json" : "*/*" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  let lastError = null;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    let response;
    try {
      response = await fetch(url(path, query), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        mode: "cors",
        credentials: "omit",
      });
    } catch {
      lastError = new ApiError(0, { detail: "network-error" });
      if (attempt + 1 < attempts) await sleep(retryDelay(null, attempt));
      continue;
    }
    if (response.ok) {
      if (as === "blob") return response.blob();
      if (as === "text") return response.text();
      const text = await response.text();
      return text ? JSON.parse(text) : null;
    }
    const error = new ApiError(response.status, await readProblem(response));
    error.retryAfterMs = retryDelay(response, attempt); // billow's Retry-After (409s, 503s), at most 3 s
    if (response.status === 401) {
      unauthorizedListeners.forEach((listener) => listener(error));
      throw error;
    }
    if (!(error.retryable && safe) || attempt + 1 >= attempts) throw error;
    lastError = error;
    await sleep(retryDelay(response, attempt));
  }
  throw lastError;
}

export const get = (path, query, as) => request("GET", path, { query, as });

/**
 * GET an invoice's PDF link (`{url, expires_at}`). While billow renders the PDF it answers 409
 * `pdf-not-ready` with Retry-After (issue 21: a PDF just issued, or one a payment made stale): wait
 * that long and ask again, up to `attempts` times; `onWait()` is called before each wait (the page
 * says "Preparing the PDF…").
 */
export async function pdfLink(path, { attempts = 8, onWait } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await get(path);
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== "pdf-not-ready" || attempt + 1 >= attempts) throw error;
      if (onWait) onWait(attempt);
      await sleep(error.retryAfterMs || 2000);
    }
  }
}

/** Poll `read()` every `every` ms until `done(value)` or `timeout` ms; returns the last value. */
export async function poll(read, done, { every = 1000, timeout = 60_000, signal } = {}) {
  const deadline = Date.now() + timeout;
  let value = await read();
  while (!done(value) && Date.now() < deadline && !(signal && signal.aborted)) {
    await sleep(every);
    value = await read();
  }
  return value;
}
