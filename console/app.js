// The console's shell: config.json, sign-in state, the hash router, the header and navigation.
// Pages are modules in pages/ exporting `render(ctx)`; a page may return a cleanup function.

import * as api from "./api.js";
import { clear, h } from "./dom.js";
import { LOCALES, getLocale, initialLocale, onLocaleChange, setLocale, t } from "./i18n.js";
import { errorMessage } from "./ui.js";

const ROUTES = [
  { path: /^\/signin$/, page: "signin", title: "signin.title", public: true },
  { path: /^\/overview$/, page: "overview", title: "overview.title", nav: "nav.overview" },
  { path: /^\/invoices$/, page: "invoices", title: "invoices.title", nav: "nav.invoices", needs: "invoices" },
  { path: /^\/invoices\/([A-Za-z0-9_-]+)$/, page: "invoice", title: "invoices.title", needs: "invoices" },
  { path: /^\/pay$/, page: "pay", title: "pay.title", nav: "nav.pay", needs: "payments" },
  { path: /^\/payments\/([A-Za-z0-9_-]+)$/, page: "payment", title: "payment.title", needs: "payments" },
  { path: /^\/pay\/return$/, page: "pay-return", title: "pay.returnTitle", needs: "payments" },
  { path: /^\/payment-method$/, page: "payment-method", title: "pm.title", nav: "nav.paymentMethod", needs: "payment_method" },
  { path: /^\/items$/, page: "items", title: "items.title", nav: "nav.items", needs: "billing_items" },
  { path: /^\/usage$/, page: "usage", title: "usage.title", nav: "nav.usage", needs: "usage" },
  { path: /^\/upgrade$/, page: "upgrade", title: "upgrade.title", nav: "nav.upgrade", lite: true, liteOnly: true },
  { path: /^\/support$/, page: "support", title: "support.title", nav: "nav.support", lite: true },
];
const NAV_HREF = {
  overview: "#/overview",
  invoices: "#/invoices",
  pay: "#/pay",
  "payment-method": "#/payment-method",
  items: "#/items",
  usage: "#/usage",
  support: "#/support",
  upgrade: "#/upgrade",
};
const NEXT = "billow.next"; // where to go after signing in (a route, never a token)
const ACCOUNT = "billow.account"; // the last account id used here (not a secret)

const state = { config: null, summary: null, cleanup: null, controller: null, notice: null };

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/overview";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search), raw };
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

const isLite = (summary) => summary && summary.type === "lite";
export const homeFor = (summary) => (isLite(summary) ? "#/upgrade" : "#/overview");

export async function loadSummary() {
  state.summary = await api.get(api.acct("/summary"));
  return state.summary;
}

/** Sign in with an access token for `accountId`; throws the API's error when the token is refused. */
export async function signInWith(token, accountId) {
  api.signIn(token, accountId);
  state.signingIn = true; // a 401 now is a refused sign-in (shown by the form), not an ended session
  try {
    await loadSummary();
  } catch (error) {
    api.signOut();
    throw error;
  } finally {
    state.signingIn = false;
  }
  try {
    localStorage.setItem(ACCOUNT, accountId);
  } catch {
    /* not kept */
  }
  setLocale(initialLocale(state.summary.locale));
  let next = null;
  try {
    next = sessionStorage.getItem(NEXT);
    sessionStorage.removeItem(NEXT);
  } catch {
    next = null;
  }
  navigate(next && next.startsWith("#/") && !next.startsWith("#/signin") ? next : homeFor(state.summary));
}

export function rememberedAccount() {
  try {
    return localStorage.getItem(ACCOUNT) || "";
  } catch {
    return "";
  }
}

/** An account id a token may carry as a claim (a provider can add one); "" when it has none. */
export function accountFromToken(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return payload["custom:account_id"] || payload.account_id || "";
  } catch {
    return "";
  }
}

function signOut(notice) {
  api.signOut();
  state.summary = null;
  state.notice = notice || null;
  navigate("#/signin");
}

function header() {
  const s = state.summary;
  const language = h(
    "select",
    { id: "locale", name: "locale" },
    LOCALES.map(([value, label]) => h("option", { value, selected: value === getLocale(), lang: value }, label)),
  );
  language.addEventListener("change", () => setLocale(language.value, { remember: true }));
  return h(
    "header",
    { class: "app-header" },
    h("a", { class: "skip", href: "#page-title", onclick: skipToContent }, t("app.skip")),
    h("p", { class: "brand" }, t("app.name")),
    s ? h("p", { class: "account", id: "account-name" }, t("app.account", { name: s.name, number: s.number })) : null,
    h(
      "div",
      { class: "header-tools" },
      h("label", { for: "locale" }, t("app.language")),
      language,
      api.isSignedIn()
        ? h("button", { type: "button", class: "secondary", id: "sign-out", onclick: () => signOut() }, t("app.signOut"))
        : null,
    ),
  );
}

function skipToContent(event) {
  event.preventDefault();
  const target = document.getElementById("page-title") || document.getElementById("main");
  if (target) target.focus();
}

function navigation(current) {
  const s = state.summary;
  if (!s) return null;
  const links = ROUTES.filter((r) => r.nav)
    .filter((r) => (isLite(s) ? r.lite : !r.liteOnly && (!r.needs || s.capabilities[r.needs])))
    .map((r) => {
      const here = current && (current.page === r.page || (current.page === "invoice" && r.page === "invoices"));
      return h("li", {}, h("a", { href: NAV_HREF[r.page], "aria-current": here ? "page" : null }, t(r.nav)));
    });
  return h("nav", { class: "app-nav", "aria-label": t("nav.label") }, h("ul", {}, links));
}

function allowed(r, summary) {
  if (r.public) return true;
  if (isLite(summary)) return Boolean(r.lite);
  if (r.liteOnly) return false;
  return !r.needs || Boolean(summary.capabilities[r.needs]);
}

export async function route() {
  const { path, query } = parseHash();
  const r = ROUTES.find((x) => x.path.test(path));
  if (state.cleanup) {
    try {
      state.cleanup();
    } catch {
      /* a page's cleanup never blocks navigation */
    }
    state.cleanup = null;
  }
  if (state.controller) state.controller.abort();
  state.controller = new AbortController();
  const signal = state.controller.signal;
  const linked = query.get("account"); // e-mail links name the account: #/invoices/inv_…?account=acct_…
  if (linked && /^acct_[A-Za-z0-9]+$/.test(linked) && linked !== api.accountId()) {
    try {
      localStorage.setItem(ACCOUNT, linked);
    } catch {
      /* the form asks for it */
    }
    if (api.isSignedIn()) api.switchAccount(linked);
  }
  if (r && !r.public && !api.isSignedIn()) {
    try {
      sessionStorage.setItem(NEXT, location.hash);
    } catch {
      /* sign-in lands on the home page then */
    }
    navigate("#/signin");
    return;
  }
  const main = document.getElementById("main");
  const root = document.getElementById("app");
  if (api.isSignedIn() && r && !r.public) {
    try {
      await loadSummary();
    } catch (error) {
      if (signal.aborted) return;
      renderShell(root, r);
      clear(main, h("p", { role: "alert" }, errorMessage(error)));
      return;
    }
    if (signal.aborted) return;
    if (!allowed(r, state.summary)) {
      navigate(homeFor(state.summary));
      return;
    }
  }
  renderShell(root, r);
  if (!r) {
    clear(main, h("h1", { tabindex: "-1", id: "page-title" }, t("app.notFound")));
    document.title = `${t("app.notFound")} — ${t("app.name")}`;
    return;
  }
  document.title = `${t(r.title)} — ${t("app.name")}`;
  const module = await import(`./pages/${r.page}.js`);
  if (signal.aborted) return;
  const match = path.match(r.path);
  const ctx = {
    config: state.config,
    summary: state.summary,
    params: match.slice(1),
    query,
    main,
    signal,
    notice: state.notice,
    loadSummary,
    navigate,
    signInWith,
  };
  state.notice = null;
  clear(main);
  try {
    state.cleanup = (await module.render(ctx)) || null;
  } catch (error) {
    if (signal.aborted) return;
    main.append(h("p", { role: "alert", class: "result-error" }, errorMessage(error)));
  }
  if (signal.aborted) return;
  const title = document.getElementById("page-title");
  if (title && state.navigated) title.focus();
  state.navigated = true;
}

function renderShell(root, r) {
  const main = document.getElementById("main") || h("main", { id: "main", tabindex: "-1" });
  const shell = [header(), r && !r.public ? navigation(r) : null, main];
  clear(root, ...shell.filter(Boolean));
}

// The links billow's e-mails carry are paths (functions/core/links.py): /accounts/{id}/invoices/{id},
// /accounts/{id}/payments/{id}, /accounts/{id}/support. The host serves index.html for them; here they
// become the hash route, and the account is remembered for the sign-in form.
const DEEP_LINK = /^(.*?)\/accounts\/(acct_[A-Za-z0-9]+)\/(invoices|payments|support)(?:\/([A-Za-z0-9_-]+))?\/?$/;

function followDeepLink() {
  const link = location.pathname.match(DEEP_LINK);
  if (!link) return;
  const [, base, account, page, id] = link;
  try {
    localStorage.setItem(ACCOUNT, account);
  } catch {
    /* the form asks for it */
  }
  history.replaceState(null, "", `${base}/#/${page}${id ? `/${id}` : ""}`);
}

async function boot() {
  const root = document.getElementById("app");
  try {
    const response = await fetch(new URL("config.json", import.meta.url), { cache: "no-store" });
    state.config = await response.json();
  } catch {
    clear(root, h("main", { id: "main" }, h("p", { role: "alert" }, "config.json could not be read.")));
    return;
  }
  followDeepLink();
  api.configure(state.config);
  setLocale(initialLocale(state.config.locale || (navigator.language || "en").slice(0, 2)));
  onLocaleChange(() => route());
  api.onUnauthorized(() => {
    if (!state.signingIn) signOut(t("signin.again"));
  });
  window.addEventListener("hashchange", () => route());
  const search = new URLSearchParams(location.search);
  if (state.config.cognito && (search.has("code") || search.has("error"))) {
    clear(root, h("main", { id: "main" }, h("p", { role: "status" }, t("signin.completing"))));
    try {
      const { completeSignIn } = await import("./cognito.js");
      const token = await completeSignIn(state.config); // it also takes the code out of the address bar
      if (!token) throw new Error("no sign-in to complete");
      const accountId = accountFromToken(token) || rememberedAccount();
      if (accountId) {
        await signInWith(token, accountId);
        return;
      }
      state.pendingToken = token;
    } catch (error) {
      history.replaceState(null, "", `${location.pathname}#/signin`);
      state.notice = t("signin.failed", { detail: errorMessage(error) });
    }
  }
  route();
}

export const pendingToken = () => {
  const token = state.pendingToken;
  state.pendingToken = null;
  return token;
};

boot();
