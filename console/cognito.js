// Deployed sign-in: Cognito's hosted UI, authorization code + PKCE (RFC 7636, S256), for a public
// app client (no secret). `startSignIn(config)` sends the browser to the hosted UI; back at the
// console with `?code=&state=`, `completeSignIn(config)` exchanges the code for tokens and returns the
// access token. The PKCE verifier and the state live in sessionStorage for the round trip only (removed
// on return); the token is returned, never stored — the console keeps it in memory (docs/console.md).
//
// config.cognito = {domain: "https://<prefix>.auth.<region>.amazoncognito.com", clientId,
//                   redirectUri (one of the app client's callback URLs), scope}
// Locally, `cognito` is null (sign in with a token); tests/browser/test_cognito_signin.py drives this
// file against a local stand-in for the two endpoints (local/cognito_stand_in.py).

const PENDING = "billow.signin.pending";
const DEFAULT_SCOPE = "openid email billow/billing:read billow/billing:write";

function base64url(bytes) {
  let text = "";
  bytes.forEach((byte) => { text += String.fromCharCode(byte); });
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(byteCount) {
  return base64url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function settings(config) {
  const cognito = config && config.cognito;
  if (!cognito || !cognito.domain || !cognito.clientId) {
    throw new Error("config.cognito needs domain and clientId");
  }
  return {
    domain: cognito.domain.replace(/\/+$/, ""),
    clientId: cognito.clientId,
    redirectUri: cognito.redirectUri || `${window.location.origin}/`,
    scope: cognito.scope || DEFAULT_SCOPE,
  };
}

export class SignInError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = "SignInError";
    this.code = code;
  }
}

/** Redirect to the hosted UI (GET /oauth2/authorize). `returnTo` (a hash route) is restored after. */
export async function startSignIn(config, returnTo = window.location.hash) {
  const { domain, clientId, redirectUri, scope } = settings(config);
  const verifier = randomString(48); // 64 characters, within RFC 7636's 43..128
  const state = randomString(24);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, redirectUri, returnTo }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
    scope,
    state,
  });
  window.location.assign(`${domain}/oauth2/authorize?${params}`);
}

/** Back from the hosted UI: null when this page load is not a sign-in's return; else the access token
 * (POST /oauth2/token with the code and the verifier). Throws SignInError on a refusal or a mismatch. */
export async function completeSignIn(config) {
  const params = new URLSearchParams(window.location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (!code && !error) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  // the code leaves the address bar (and the history) whatever happens next
  window.history.replaceState(null, "", `${window.location.pathname}${(pending && pending.returnTo) || ""}`);
  if (error) throw new SignInError(error, params.get("error_description") || error);
  if (!pending || pending.state !== params.get("state")) {
    throw new SignInError("state_mismatch", "this sign-in was not started here; sign in again");
  }
  const { domain, clientId } = settings(config);
  const response = await fetch(`${domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: clientId,
      code,
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new SignInError(body.error || `http_${response.status}`, body.error_description || body.error);
  }
  return body.access_token;
}
